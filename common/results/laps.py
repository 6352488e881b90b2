"""Parse iRacing Data API lap data (``/data/results/lap_data``).

The API returns a header (``session_info``, ``chunk_info``) and serves the laps themselves
as separate chunk files, each a JSON array of lap rows. Accepted here: a chunk array (the
caller names the subsession), or an object with the laps in ``laps`` and optionally the header.
"""

from __future__ import annotations

from ..errors import ParseError
from .jsonio import Record, load_payload
from .model import Lap, LapData

# The main event of a subsession; used when neither the payload nor the caller names one.
MAIN_EVENT_SIMSESSION = 0


def parse_laps(
    data: bytes | str | dict | list,
    name: str,
    subsession_id: int | None = None,
    simsession_number: int | None = None,
) -> LapData:
    """Parse lap data; ``subsession_id`` is required when the payload does not contain it.

    ``simsession_number`` defaults to the payload's ``session_info`` and then to 0, the main
    event.
    """
    obj = load_payload(data, name)
    info: Record | None = None
    if isinstance(obj, list):
        rows = Record({"laps": obj}, "", name).records("laps")
    elif isinstance(obj, dict):
        top = Record(obj, "", name)
        info = top.record("session_info")
        if not top.has("laps"):
            if top.has("chunk_info"):
                raise ParseError(name, "lap data header without laps: the laps are in the chunk "
                                 "files listed in chunk_info; download and ingest those",
                                 field="laps")
            raise ParseError(name, "no laps found", field="laps", expected="a JSON array of laps")
        rows = top.records("laps")
    else:
        raise ParseError(name, "lap data must be a JSON array or object",
                         expected="an array of laps", found=type(obj).__name__)

    payload_subsession = info.integer("subsession_id") if info is not None else None
    payload_simsession = (info.integer("simsession_number", sentinel=False)
                          if info is not None else None)
    if subsession_id is not None and payload_subsession not in (None, subsession_id):
        raise ParseError(name, "the payload belongs to another subsession than requested",
                         field="session_info.subsession_id", expected=str(subsession_id),
                         found=str(payload_subsession))
    subsession_id = subsession_id if subsession_id is not None else payload_subsession
    if subsession_id is None:
        raise ParseError(name, "the lap data does not name its subsession; pass it with "
                               "--subsession-id (simtel results ingest)",
                         field="session_info.subsession_id")
    if simsession_number is None:
        simsession_number = (payload_simsession if payload_simsession is not None
                             else MAIN_EVENT_SIMSESSION)

    laps = []
    seen: dict[tuple[int, int], str] = {}
    for row in rows:
        lap = _parse_lap(row)
        key = (lap.cust_id, lap.lap_number)
        if key in seen:
            raise row.error("lap_number", f"lap {lap.lap_number} of driver {lap.cust_id} appears "
                            f"twice, first at {seen[key]}", "one row per lap", lap.lap_number)
        seen[key] = row.path
        laps.append(lap)
    return LapData(subsession_id=subsession_id, simsession_number=simsession_number, laps=laps)


def _parse_lap(row: Record) -> Lap:
    lap_number = row.integer("lap_number", sentinel=False, required=True)
    lap_time_s = row.duration_s("lap_time")
    events = tuple(row.strings("lap_events"))
    return Lap(
        cust_id=row.integer("cust_id", required=True),
        display_name=row.text("display_name", "name"),
        group_id=row.integer("group_id"),
        lap_number=lap_number,
        lap_time_s=lap_time_s,
        session_time_s=row.duration_s("session_time", zero_is_none=False),
        valid=lap_time_s is not None and "invalid" not in events,
        incident=row.flag("incident"),
        flags=row.integer("flags", sentinel=False),
        lap_events=events,
        personal_best_lap=row.flag("personal_best_lap"),
        team_fastest_lap=row.flag("team_fastest_lap"),
        car_number=row.text("car_number"),
        license_level=row.integer("license_level"),
    )
