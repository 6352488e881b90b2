"""Parse an iRacing Data API subsession result (``/data/results/get``).

Accepted shapes:

- the current one, with simsessions in ``session_results``;
- a flat ``results`` list whose rows carry their own ``simsession_*`` fields;
- in both, team rows with their drivers nested in ``driver_results``.

Fields that older payloads lack are read as ``None``.
"""

from __future__ import annotations

import logging
from typing import Any

from ..errors import ParseError
from .jsonio import Record, load_payload
from .model import (
    CarClass,
    DriverResult,
    Season,
    Series,
    Simsession,
    SubsessionResult,
    TeamResult,
    Track,
    Weather,
)

logger = logging.getLogger(__name__)

# iRacing's temp_units / wind_units code for imperial units; 1 is metric.
_UNITS_IMPERIAL = 0
_KMH_PER_MPH = 1.609344


def parse_results(data: bytes | str | dict, name: str) -> SubsessionResult:
    """Parse a subsession result payload (raw, wrapped, with or without a byte-order mark)."""
    obj = load_payload(data, name)
    if not isinstance(obj, dict):
        raise ParseError(name, "a subsession result must be a JSON object",
                         expected="an object with subsession_id", found=type(obj).__name__)
    top = Record(obj, "", name)
    subsession_id = top.integer("subsession_id", required=True)
    if subsession_id <= 0:
        raise top.error("subsession_id", "invalid id", "a positive integer", subsession_id)

    result = SubsessionResult(
        subsession_id=subsession_id,
        session_id=top.integer("session_id"),
        start_time=top.timestamp("start_time", "launch_at"),
        end_time=top.timestamp("end_time"),
        event_type=top.integer("event_type"),
        event_type_name=top.text("event_type_name"),
        license_category_id=top.integer("license_category_id"),
        license_category=top.text("license_category"),
        official_session=top.flag("official_session"),
        race_week_num=top.integer("race_week_num"),
        event_strength_of_field=top.integer("event_strength_of_field"),
        num_drivers=top.integer("num_drivers"),
        event_laps_complete=top.integer("event_laps_complete"),
        event_average_lap_s=top.duration_s("event_average_lap"),
        event_best_lap_time_s=top.duration_s("event_best_lap_time"),
        num_cautions=top.integer("num_cautions"),
        num_caution_laps=top.integer("num_caution_laps"),
        num_lead_changes=top.integer("num_lead_changes"),
        max_team_drivers=top.integer("max_team_drivers"),
        corners_per_lap=top.integer("corners_per_lap"),
        track=_parse_track(top),
        series=_parse_series(top),
        season=_parse_season(top),
        weather=_parse_weather(top.record("weather")),
        car_classes=_parse_car_classes(top),
        simsessions=_parse_simsessions(top),
    )
    if result.start_time is None:
        result.warnings.append("no start_time: the race gets no training features")
    if not result.simsessions:
        result.warnings.append("no session_results: the subsession has no results")
    for warning in result.warnings:
        logger.warning("%s: subsession %d: %s", name, subsession_id, warning)
    return result


def _parse_track(top: Record) -> Track | None:
    track = top.record("track")
    # Older payloads write the track's fields at the top level.
    source = track if track is not None else top
    track_id = source.integer("track_id")
    if track_id is None:
        return None
    return Track(
        track_id=track_id,
        track_name=source.text("track_name"),
        config_name=source.text("config_name"),
        category_id=source.integer("category_id"),
        category=source.text("category"),
    )


def _parse_series(top: Record) -> Series | None:
    series_id = top.integer("series_id")
    if series_id is None or series_id <= 0:
        return None
    return Series(series_id, top.text("series_name"), top.text("series_short_name"))


def _parse_season(top: Record) -> Season | None:
    season_id = top.integer("season_id")
    series_id = top.integer("series_id")
    # A season belongs to one series; without the series the season row cannot be stored.
    if season_id is None or season_id <= 0 or series_id is None or series_id <= 0:
        return None
    return Season(
        season_id=season_id,
        series_id=series_id,
        season_name=top.text("season_name"),
        season_short_name=top.text("season_short_name"),
        season_year=top.integer("season_year"),
        season_quarter=top.integer("season_quarter"),
    )


def _parse_weather(weather: Record | None) -> Weather | None:
    if weather is None:
        return None
    temp = weather.number("temp_value")
    temp_units = weather.integer("temp_units")
    if temp is not None and temp_units == _UNITS_IMPERIAL:
        temp = (temp - 32.0) * 5.0 / 9.0
    elif temp is not None and temp_units is None:
        temp = None  # a value without its unit cannot be converted
    wind = weather.number("wind_value")
    wind_units = weather.integer("wind_units")
    # NOTE: wind_units is read with the same code as temp_units (0 imperial, so mph). The
    # temperature code is confirmed by real values (78 with code 0 is 25.6 C); the wind code
    # is assumed to follow it.
    if wind is not None and wind_units == _UNITS_IMPERIAL:
        wind = wind * _KMH_PER_MPH
    elif wind is not None and wind_units is None:
        wind = None
    return Weather(
        air_temp_c=temp,
        rel_humidity_pct=weather.number("rel_humidity"),
        skies=weather.integer("skies"),
        wind_speed_kmh=wind,
        wind_dir=weather.integer("wind_dir"),
        precip_time_pct=weather.number("precip_time_pct"),
        fog_pct=weather.number("fog"),
    )


def _parse_car_classes(top: Record) -> list[CarClass]:
    classes = []
    for item in top.records("car_classes"):
        class_id = item.integer("car_class_id")
        if class_id is not None:
            classes.append(CarClass(class_id, item.text("name"), item.text("short_name")))
    return classes


def _parse_simsessions(top: Record) -> list[Simsession]:
    if top.has("session_results"):
        blocks = [(block, block.records("results")) for block in top.records("session_results")]
    elif top.has("results"):
        blocks = _group_flat_rows(top.records("results"))
    else:
        return []

    simsessions = []
    seen: dict[int, str] = {}
    for index, (block, rows) in enumerate(blocks):
        # iRacing numbers the last simsession 0 and the earlier ones -1, -2 and so on. A payload
        # without the numbers gets the same numbering from the order of the blocks.
        number = block.integer("simsession_number", sentinel=False)
        if number is None:
            number = index - (len(blocks) - 1)
        if number in seen:
            raise block.error("simsession_number", f"simsession number {number} appears twice, "
                              f"first at {seen[number]}", "unique numbers", number)
        seen[number] = block.path or "results"
        drivers, teams = _parse_rows(rows)
        simsessions.append(Simsession(
            number=number,
            type=block.integer("simsession_type"),
            type_name=block.text("simsession_type_name"),
            name=block.text("simsession_name"),
            subtype=block.integer("simsession_subtype"),
            results=tuple(drivers),
            team_results=tuple(teams),
        ))
    return simsessions


def _group_flat_rows(rows: list[Record]) -> list[tuple[Record, list[Record]]]:
    """Group a flat result list by each row's simsession_number (missing means the main event)."""
    groups: dict[int, tuple[Record, list[Record]]] = {}
    for row in rows:
        number = row.integer("simsession_number", sentinel=False)
        key = 0 if number is None else number
        if key not in groups:
            groups[key] = (row, [])
        groups[key][1].append(row)
    return [groups[k] for k in sorted(groups)]


def _parse_rows(rows: list[Record]) -> tuple[list[DriverResult], list[TeamResult]]:
    drivers: list[DriverResult] = []
    teams: list[TeamResult] = []
    where: dict[int, str] = {}
    for row in rows:
        if row.has("driver_results"):
            team, members = _parse_team_row(row)
            teams.append(team)
        else:
            members = [(row, _parse_driver(row, None))]
        for member_row, driver in members:
            if driver.cust_id in where:
                raise member_row.error("cust_id", f"driver {driver.cust_id} appears twice in one "
                                       f"simsession, first at {where[driver.cust_id]}",
                                       "one row per driver", driver.cust_id)
            where[driver.cust_id] = member_row.path
            drivers.append(driver)
    return drivers, teams


def _parse_team_row(row: Record) -> tuple[TeamResult, list[tuple[Record, DriverResult]]]:
    team_id = _team_id(row, required=True)
    members = [(member, _parse_driver(member, row)) for member in row.records("driver_results")]
    team = TeamResult(
        team_id=team_id,
        display_name=row.text("display_name", "team_name"),
        car_id=row.integer("car_id"),
        car_class_id=row.integer("car_class_id"),
        finish_position=row.position("finish_position"),
        finish_position_in_class=row.position("finish_position_in_class"),
        starting_position=row.position("starting_position"),
        starting_position_in_class=row.position("starting_position_in_class"),
        incidents=row.integer("incidents"),
        laps_complete=row.integer("laps_complete"),
        laps_led=row.integer("laps_lead", "laps_led"),
        reason_out_id=row.integer("reason_out_id"),
        reason_out=row.text("reason_out"),
        best_lap_time_s=row.duration_s("best_lap_time"),
        average_lap_time_s=row.duration_s("average_lap"),
        drivers=tuple(d.cust_id for _, d in members),
    )
    return team, members


def _team_id(row: Record, required: bool = False) -> int | None:
    # Team ids in team-event results can be negative (such as -385239), so -1 is not read as
    # "none" here; only 0 means "no team".
    team_id = row.integer("team_id", sentinel=False, required=required)
    if team_id == 0:
        if required:
            raise row.error("team_id", "invalid team id", "a non-zero id", team_id)
        return None
    return team_id


def _parse_driver(row: Record, team: Record | None) -> DriverResult:
    """Read a driver row; in a team event, fields the driver row lacks come from the team row."""

    def pick(read: Any, *keys: str) -> Any:
        value = read(row, *keys)
        if value is None and team is not None:
            value = read(team, *keys)
        return value

    cust_id = row.integer("cust_id", "custid", required=True)
    team_id = _team_id(row) if team is None else (_team_id(row) or _team_id(team))
    return DriverResult(
        cust_id=cust_id,
        display_name=row.text("display_name", "name", "displayname"),
        team_id=team_id,
        car_id=pick(Record.integer, "car_id"),
        car_name=pick(Record.text, "car_name"),
        car_class_id=pick(Record.integer, "car_class_id"),
        car_class_name=pick(Record.text, "car_class_name"),
        car_class_short_name=pick(Record.text, "car_class_short_name"),
        finish_position=pick(Record.position, "finish_position"),
        finish_position_in_class=pick(Record.position, "finish_position_in_class"),
        starting_position=pick(Record.position, "starting_position"),
        starting_position_in_class=pick(Record.position, "starting_position_in_class"),
        incidents=row.integer("incidents"),
        laps_complete=row.integer("laps_complete"),
        laps_led=row.integer("laps_lead", "laps_led"),
        reason_out_id=pick(Record.integer, "reason_out_id"),
        reason_out=pick(Record.text, "reason_out"),
        oldi_rating=row.integer("oldi_rating"),
        newi_rating=row.integer("newi_rating"),
        old_license_level=row.integer("old_license_level"),
        new_license_level=row.integer("new_license_level"),
        old_safety_rating=row.sub_level("old_sub_level"),
        new_safety_rating=row.sub_level("new_sub_level"),
        best_lap_time_s=row.duration_s("best_lap_time"),
        best_lap_num=row.integer("best_lap_num"),
        average_lap_time_s=row.duration_s("average_lap"),
        qual_lap_time_s=row.duration_s("qual_lap_time", "best_qual_lap_time"),
        # The leader's interval is a real 0; lapped cars have -1.
        interval_s=row.duration_s("interval", zero_is_none=False),
        class_interval_s=row.duration_s("class_interval", zero_is_none=False),
        champ_points=row.integer("champ_points"),
        ai=row.flag("ai"),
    )
