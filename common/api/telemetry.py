"""Telemetry endpoint: chosen channels of a session over a time range or a lap, optionally
downsampled, as columnar JSON, CSV or Parquet."""

from __future__ import annotations

from . import encode, schemas, series
from .app import connection, route
from .context import Context
from .downsample import lttb_indices, minmax_indices
from .errors import bad_request, invalid
from .params import Param, session_id_param
from .responses import CSV, JSON, PARQUET, Reply

# Most rows one request returns without downsampling; ask for a time range to read more.
MAX_ROWS = 200_000
# Most rows read for one downsampled request (about 5.5 hours at 100 Hz).
MAX_SCAN_ROWS = 2_000_000
MAX_POINTS = 100_000
MAX_CHANNELS = 64

QUERY = (
    Param("channels", "list",
          "Channel names, comma-separated: canonical names (speed, throttle, ...) or the names in "
          "the file. Quote a name that contains a comma as in CSV.", required=True,
          max_length=10_000, example="speed,throttle,brake"),
    Param("start_s", "number", "Start of the time range, in seconds from the session start "
                               "(inclusive)."),
    Param("end_s", "number", "End of the time range, in seconds from the session start (inclusive)."),
    Param("lap", "integer", "Read one stored lap (see /laps) instead of a time range.",
          minimum=0, maximum=100_000),
    Param("max_points", "integer",
          "Downsample to at most this many rows. minmax needs at least 2 per channel, lttb 3 per "
          "channel.", minimum=2, maximum=MAX_POINTS),
    Param("downsample", "string",
          "minmax keeps each channel's minimum and maximum per time bucket; lttb keeps each "
          "line's shape (Largest-Triangle-Three-Buckets).", choices=("minmax", "lttb"),
          default="minmax"),
    Param("limit", "integer", "Most rows returned without max_points.", default=MAX_ROWS, minimum=1,
          maximum=MAX_ROWS),
    Param("format", "string", "Response format; overrides the Accept header.",
          choices=tuple(encode.FORMATS)),
)


@route("GET", "/v1/sessions/{session_id}/telemetry", tag="telemetry",
       path_params=(session_id_param(),), query=QUERY,
       responses={200: Reply(
           "Columnar telemetry. CSV: a header row (elapsed_s and the channel names as requested), "
           "one row per sample, empty fields for missing values. Parquet: one column per channel, "
           "with unit and source_name in the field metadata.",
           schemas.ref("Telemetry"), (JSON, CSV, PARQUET))})
def telemetry(ctx: Context):
    """Read channels of a session over a time range or a lap, optionally downsampled.

    Without max_points every stored row in the range is returned, up to limit. `truncated`
    is true when rows were left out.
    """
    q = ctx.query
    session_id = ctx.path["session_id"].lower()
    names = q["channels"]
    _check_request(q, names)
    max_rows = MAX_SCAN_ROWS if q["max_points"] else q["limit"]
    start_s, end_s = q["start_s"], q["end_s"]
    with connection() as conn:
        found = series.lookup(conn, session_id, q["lap"])
        refs = series.resolve(found, names)
        if found.lap_window is not None:
            start_s, end_s = found.lap_window
        data = series.read(conn, found.key, refs, start_s, end_s, max_rows)

    elapsed, values = data.elapsed_s, data.values
    method = None
    if q["max_points"] and len(elapsed) > q["max_points"]:
        method = q["downsample"]
        pick = minmax_indices if method == "minmax" else lttb_indices
        rows = pick(elapsed, values, q["max_points"])
        elapsed, values = elapsed[rows], [v[rows] for v in values]

    meta = {
        "session_id": session_id,
        "lap": q["lap"],
        "start_s": start_s,
        "end_s": end_s,
        "rows_read": len(data.elapsed_s),
        "points": len(elapsed),
        "downsample": method,
        "truncated": data.truncated,
    }
    fmt = encode.choose_format(ctx.request, q["format"])
    stem = f"{session_id[:12]}-" + (f"lap{q['lap']}" if q["lap"] is not None else "telemetry")
    if fmt == "csv":
        return encode.to_csv(elapsed, refs, values, f"{stem}.csv")
    if fmt == "parquet":
        return encode.to_parquet(meta, elapsed, refs, values, f"{stem}.parquet")
    return encode.to_json(meta, elapsed, refs, values)


def _check_request(q: dict, names: list[str]) -> None:
    if len(names) > MAX_CHANNELS:
        raise invalid("channels", f"lists {len(names)} channels; at most {MAX_CHANNELS} per request")
    if len(set(names)) != len(names):
        raise invalid("channels", "names a channel more than once")
    if q["lap"] is not None and (q["start_s"] is not None or q["end_s"] is not None):
        raise bad_request("parameters lap and start_s/end_s exclude each other; pass one or the other")
    if q["start_s"] is not None and q["end_s"] is not None and q["end_s"] < q["start_s"]:
        raise invalid("end_s", f"must not be before start_s ({q['start_s']:g}), found {q['end_s']:g}")
    if q["max_points"]:
        per_channel = 2 if q["downsample"] == "minmax" else 3
        if q["max_points"] < per_channel * len(names):
            raise invalid("max_points", f"must be at least {per_channel} per channel with "
                                        f"downsample={q['downsample']} ({per_channel * len(names)} "
                                        f"for {len(names)} channels), found {q['max_points']}")
