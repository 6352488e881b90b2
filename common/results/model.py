"""Parsed iRacing results and lap data, in database units.

Conventions for every class here:

- ``None`` is "none": the API's ``-1``, or a field the payload lacks.
- Positions keep the API's 0-based values.
- Durations are seconds.
- Safety ratings are the rating itself (3.47), not the API's ``sub_level`` hundredths.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

# iRacing's simsession_type for a race simsession (3 is open practice, 4 lone qualifying,
# 5 open qualifying).
SIMSESSION_TYPE_RACE = 6


@dataclass(frozen=True)
class Weather:
    """Weather of a subsession as set before the start, converted to metric units."""

    air_temp_c: float | None = None
    rel_humidity_pct: float | None = None
    # iRacing's sky code: 0 clear, 1 partly cloudy, 2 mostly cloudy, 3 overcast.
    skies: int | None = None
    wind_speed_kmh: float | None = None
    wind_dir: int | None = None
    precip_time_pct: float | None = None
    fog_pct: float | None = None


@dataclass(frozen=True)
class DriverResult:
    """One driver's result in one simsession.

    In a team event the team's car, positions and finish status are copied to each of its
    drivers when the driver's own row lacks them.
    """

    cust_id: int
    display_name: str | None
    team_id: int | None
    car_id: int | None
    car_name: str | None
    car_class_id: int | None
    car_class_name: str | None
    car_class_short_name: str | None
    finish_position: int | None
    finish_position_in_class: int | None
    starting_position: int | None
    starting_position_in_class: int | None
    incidents: int | None
    laps_complete: int | None
    laps_led: int | None
    reason_out_id: int | None
    reason_out: str | None
    oldi_rating: int | None
    newi_rating: int | None
    old_license_level: int | None
    new_license_level: int | None
    old_safety_rating: Decimal | None
    new_safety_rating: Decimal | None
    best_lap_time_s: float | None
    best_lap_num: int | None
    average_lap_time_s: float | None
    qual_lap_time_s: float | None
    interval_s: float | None
    class_interval_s: float | None
    champ_points: int | None
    ai: bool | None


@dataclass(frozen=True)
class TeamResult:
    """A team's row in one simsession of a team event; its drivers are in ``drivers``."""

    team_id: int
    display_name: str | None
    car_id: int | None
    car_class_id: int | None
    finish_position: int | None
    finish_position_in_class: int | None
    starting_position: int | None
    starting_position_in_class: int | None
    incidents: int | None
    laps_complete: int | None
    laps_led: int | None
    reason_out_id: int | None
    reason_out: str | None
    best_lap_time_s: float | None
    average_lap_time_s: float | None
    drivers: tuple[int, ...]


@dataclass(frozen=True)
class Simsession:
    """One part of a subsession (practice, qualifying, race), numbered as iRacing does.

    iRacing numbers the main event 0 and the simsessions before it -1, -2, ... counting back;
    these numbers are identifiers, not "none" values.
    """

    number: int
    type: int | None
    type_name: str | None
    name: str | None
    subtype: int | None
    results: tuple[DriverResult, ...]
    team_results: tuple[TeamResult, ...] = ()

    @property
    def is_race(self) -> bool:
        """Return whether this is a race; without a type, a name containing "RACE" decides.

        The feature build applies the same rule in SQL to the stored type and name.
        """
        if self.type is not None:
            return self.type == SIMSESSION_TYPE_RACE
        return "RACE" in (self.name or "").upper()


@dataclass(frozen=True)
class Track:
    track_id: int
    track_name: str | None
    config_name: str | None
    category_id: int | None
    category: str | None


@dataclass(frozen=True)
class Season:
    season_id: int
    series_id: int
    season_name: str | None
    season_short_name: str | None
    season_year: int | None
    season_quarter: int | None


@dataclass(frozen=True)
class Series:
    series_id: int
    series_name: str | None
    series_short_name: str | None


@dataclass(frozen=True)
class CarClass:
    car_class_id: int
    name: str | None
    short_name: str | None


@dataclass
class SubsessionResult:
    """A whole subsession result: the event, its simsessions and every driver's results."""

    subsession_id: int
    session_id: int | None
    start_time: datetime | None
    end_time: datetime | None
    event_type: int | None
    event_type_name: str | None
    license_category_id: int | None
    license_category: str | None
    official_session: bool | None
    race_week_num: int | None
    event_strength_of_field: int | None
    num_drivers: int | None
    event_laps_complete: int | None
    event_average_lap_s: float | None
    event_best_lap_time_s: float | None
    num_cautions: int | None
    num_caution_laps: int | None
    num_lead_changes: int | None
    max_team_drivers: int | None
    corners_per_lap: int | None
    track: Track | None
    series: Series | None
    season: Season | None
    weather: Weather | None
    car_classes: list[CarClass]
    simsessions: list[Simsession]
    warnings: list[str] = field(default_factory=list)

    def race(self) -> Simsession | None:
        """Return the main race: the race simsession with the highest number, if any."""
        races = [s for s in self.simsessions if s.is_race]
        return max(races, key=lambda s: s.number) if races else None


@dataclass(frozen=True)
class Lap:
    """One lap of one driver from the API's lap data."""

    cust_id: int
    display_name: str | None
    group_id: int | None
    lap_number: int
    lap_time_s: float | None
    # Time since the simsession started when the lap ended, in seconds.
    session_time_s: float | None
    # False when the API gave no lap time (-1) or flagged the lap "invalid".
    valid: bool
    incident: bool | None
    flags: int | None
    lap_events: tuple[str, ...]
    personal_best_lap: bool | None
    team_fastest_lap: bool | None
    car_number: str | None
    license_level: int | None


@dataclass
class LapData:
    """Laps of one simsession; ``subsession_id`` comes from the payload or the caller."""

    subsession_id: int
    simsession_number: int
    laps: list[Lap]
