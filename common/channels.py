"""The canonical channel table: names, units, storage types, physical ranges and aliases.

This is the one place where source channel names map to canonical names and where unit
conversions are defined. ``docs/channels.md`` documents the same table for users, and a test
checks that the two agree.

A source channel maps to a canonical channel when its name, lower-cased with every run of
characters other than letters and digits replaced by one underscore, is in ``aliases``. Its unit
is converted with ``UNIT_CONVERSIONS``; a source unit that has no conversion to the canonical unit
keeps the channel under its source name only, with a warning, instead of guessing.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .model import CONTINUOUS, DISCRETE


@dataclass(frozen=True)
class Canonical:
    """One canonical channel and its column in the wide sample table."""

    name: str
    unit: str
    sql_type: str
    kind: str
    minimum: float
    maximum: float
    # Overshoot beyond [minimum, maximum] up to this amount (in ``unit``) is clamped and counted;
    # anything further out is stored as missing and counted.
    tolerance: float
    # Unit assumed when the file states none for this channel.
    default_unit: str
    aliases: tuple[str, ...]
    description: str


CANONICAL: tuple[Canonical, ...] = (
    Canonical("speed", "km/h", "real", CONTINUOUS, 0, 500, 5, "km/h",
              ("speed", "ground_speed", "gps_speed", "vehicle_speed", "corr_speed", "speed_kmh", "speed_km_h",
               "velocity", "vcar", "v_car", "groundspeed", "speed_gps"),
              "Vehicle speed over ground."),
    Canonical("throttle", "fraction", "real", CONTINUOUS, 0, 1, 0.02, "%",
              ("throttle", "throttle_pos", "throttle_position", "tps", "throttle_pedal", "pedal_pos",
               "accelerator", "accelerator_pedal", "accelerator_pos", "gas", "throttleraw"),
              "Throttle pedal position, 0 released to 1 fully pressed."),
    Canonical("brake", "fraction", "real", CONTINUOUS, 0, 1, 0.02, "%",
              ("brake", "brake_pos", "brake_position", "brake_pedal", "brakeraw", "brake_pedal_pos"),
              "Brake pedal position, 0 released to 1 fully pressed."),
    Canonical("clutch", "fraction", "real", CONTINUOUS, 0, 1, 0.02, "%",
              ("clutch", "clutch_pos", "clutch_position", "clutch_pedal", "clutchraw"),
              "Clutch pedal position, 0 released to 1 fully pressed."),
    Canonical("steering_angle", "deg", "real", CONTINUOUS, -1080, 1080, 10, "deg",
              ("steering_angle", "steer_angle", "steering", "steering_wheel_angle",
               "steeringwheelangle", "steer", "steered_angle"),
              "Steering wheel angle, positive to the left as the source defines it."),
    Canonical("gear", "gear", "smallint", DISCRETE, -1, 10, 0, "gear",
              ("gear", "gear_pos", "gear_position", "current_gear"),
              "Selected gear; 0 is neutral, -1 reverse."),
    Canonical("engine_rpm", "rpm", "real", CONTINUOUS, 0, 25000, 250, "rpm",
              ("engine_rpm", "rpm", "engine_speed", "engine_revs", "revs"),
              "Engine speed."),
    Canonical("lap_number", "count", "integer", DISCRETE, 0, 100000, 0, "count",
              ("lap", "lap_number", "lap_no", "lapnumber", "lap_count", "laps"),
              "Lap counter as the source counts laps."),
    Canonical("lap_distance", "m", "real", CONTINUOUS, 0, 100000, 50, "m",
              ("lap_distance", "lap_dist", "lapdist", "distance_on_lap", "lap_distance_m"),
              "Distance from the start line along the current lap."),
    Canonical("lap_distance_pct", "fraction", "real", CONTINUOUS, 0, 1, 0.01, "fraction",
              ("lapdistpct", "lap_dist_pct", "lap_distance_pct", "lap_distance_fraction"),
              "Lap distance as a fraction of the track length, 0 at the start line."),
    Canonical("distance", "m", "real", CONTINUOUS, 0, 10_000_000, 100, "m",
              ("distance", "total_distance", "odometer", "dist", "trip_distance", "distance_traveled",
               "distance_travelled"),
              "Distance travelled since the start of the session."),
    Canonical("latitude", "deg", "double precision", CONTINUOUS, -90, 90, 0, "deg",
              ("latitude", "lat", "gps_latitude", "gps_lat", "pos_lat"),
              "WGS 84 latitude, north positive."),
    Canonical("longitude", "deg", "double precision", CONTINUOUS, -180, 180, 0, "deg",
              ("longitude", "lon", "long", "lng", "gps_longitude", "gps_long", "gps_lon", "pos_lon"),
              "WGS 84 longitude, east positive."),
    Canonical("altitude", "m", "real", CONTINUOUS, -500, 9000, 50, "m",
              ("altitude", "alt", "gps_altitude", "elevation", "ele", "height", "gps_alt"),
              "Height above mean sea level."),
    Canonical("heading", "deg", "real", CONTINUOUS, 0, 360, 1, "deg",
              ("heading", "course", "gps_heading", "bearing", "yawnorth"),
              "Direction of travel, clockwise from north."),
    Canonical("lateral_accel", "g", "real", CONTINUOUS, -8, 8, 0.5, "g",
              ("lateral_accel", "lat_accel", "g_force_lat", "g_lat", "lateral_g", "latacc",
               "lateral_acceleration", "accel_lateral", "x_acc_lat", "gforce_lat", "lat_g", "lateral_acc",
               "gps_latacc", "lataccel"),
              "Lateral acceleration, positive to the left as the source defines it."),
    Canonical("longitudinal_accel", "g", "real", CONTINUOUS, -8, 8, 0.5, "g",
              ("longitudinal_accel", "long_accel", "lon_accel", "g_force_long", "g_long",
               "longitudinal_g", "longacc", "longitudinal_acceleration", "accel_longitudinal",
               "inline_accel", "inline_acc", "gforce_long", "lon_g", "long_g", "longitudinal_acc",
               "gps_lonacc", "longaccel"),
              "Longitudinal acceleration, positive when speeding up."),
    Canonical("vertical_accel", "g", "real", CONTINUOUS, -10, 10, 0.5, "g",
              ("vertical_accel", "vert_accel", "g_force_vert", "g_vert", "vertical_g", "vertacc",
               "vertaccel"),
              "Vertical acceleration."),
    Canonical("yaw_rate", "deg/s", "real", CONTINUOUS, -720, 720, 20, "deg/s",
              ("yaw_rate", "yawrate", "gyro_z", "yaw_velocity"),
              "Rotation rate about the vertical axis."),
    Canonical("water_temp", "C", "real", CONTINUOUS, -40, 150, 5, "C",
              ("water_temp", "coolant_temp", "water_temperature", "engine_temp", "watertemp",
               "coolant_temperature"),
              "Engine coolant temperature."),
    Canonical("oil_temp", "C", "real", CONTINUOUS, -40, 200, 5, "C",
              ("oil_temp", "oil_temperature", "oiltemp", "engine_oil_temp"),
              "Engine oil temperature."),
    Canonical("oil_pressure", "kPa", "real", CONTINUOUS, 0, 1500, 20, "kPa",
              ("oil_pressure", "oil_press", "oilpress", "engine_oil_pressure"),
              "Engine oil pressure."),
    Canonical("fuel_level", "l", "real", CONTINUOUS, 0, 500, 2, "l",
              ("fuel_level", "fuel", "fuel_remaining", "fuellevel"),
              "Fuel left in the tank."),
    Canonical("wheel_speed_fl", "km/h", "real", CONTINUOUS, 0, 500, 5, "km/h",
              ("wheel_speed_fl", "wheel_speed_lf", "lf_speed", "fl_speed", "wheel_speed_front_left",
               "ws_fl", "wheelspeed_fl", "lfspeed"),
              "Front-left wheel speed."),
    Canonical("wheel_speed_fr", "km/h", "real", CONTINUOUS, 0, 500, 5, "km/h",
              ("wheel_speed_fr", "wheel_speed_rf", "rf_speed", "fr_speed", "wheel_speed_front_right",
               "ws_fr", "wheelspeed_fr", "rfspeed"),
              "Front-right wheel speed."),
    Canonical("wheel_speed_rl", "km/h", "real", CONTINUOUS, 0, 500, 5, "km/h",
              ("wheel_speed_rl", "wheel_speed_lr", "lr_speed", "rl_speed", "wheel_speed_rear_left",
               "ws_rl", "wheelspeed_rl", "lrspeed"),
              "Rear-left wheel speed."),
    Canonical("wheel_speed_rr", "km/h", "real", CONTINUOUS, 0, 500, 5, "km/h",
              ("wheel_speed_rr", "wheel_speed_rr_", "rr_speed", "wheel_speed_rear_right", "ws_rr",
               "wheelspeed_rr", "rrspeed"),
              "Rear-right wheel speed."),
    Canonical("heart_rate", "bpm", "real", CONTINUOUS, 20, 250, 5, "bpm",
              ("heart_rate", "heartrate", "hr", "pulse"),
              "Driver heart rate."),
)

BY_NAME: dict[str, Canonical] = {c.name: c for c in CANONICAL}
COLUMNS: tuple[str, ...] = tuple(c.name for c in CANONICAL)

_ALIASES: dict[str, str] = {}
for _c in CANONICAL:
    for _alias in _c.aliases:
        if _alias in _ALIASES and _ALIASES[_alias] != _c.name:
            raise RuntimeError(f"alias {_alias!r} maps to both {_ALIASES[_alias]} and {_c.name}")
        _ALIASES[_alias] = _c.name

# Unit spellings seen in files, mapped to the spelling used in UNIT_CONVERSIONS.
UNIT_SYNONYMS: dict[str, str] = {
    "kph": "km/h", "kmh": "km/h", "km/hr": "km/h", "kmph": "km/h", "km/h": "km/h",
    "mph": "mph", "mi/h": "mph",
    "m/s": "m/s", "mps": "m/s", "ms": "ms",
    "knots": "kn", "knot": "kn", "kn": "kn", "kt": "kn", "kts": "kn",
    "ft/s": "ft/s",
    "%": "%", "pct": "%", "percent": "%",
    "fraction": "fraction", "ratio": "fraction", "0-1": "fraction",
    "deg": "deg", "degree": "deg", "degrees": "deg", "°": "deg",
    "rad": "rad", "radian": "rad", "radians": "rad",
    "deg/s": "deg/s", "°/s": "deg/s", "rad/s": "rad/s",
    "m": "m", "meter": "m", "meters": "m", "metre": "m", "metres": "m",
    "km": "km", "ft": "ft", "feet": "ft", "mi": "mi", "miles": "mi",
    "c": "C", "°c": "C", "degc": "C", "deg c": "C", "celsius": "C",
    "f": "F", "°f": "F", "degf": "F", "deg f": "F", "fahrenheit": "F", "k": "K",
    "kpa": "kPa", "bar": "bar", "psi": "psi", "pa": "Pa", "hpa": "hPa", "mbar": "hPa",
    "g": "g", "m/s^2": "m/s^2", "m/s2": "m/s^2", "m/s²": "m/s^2",
    "rpm": "rpm", "1/min": "rpm", "r/min": "rpm",
    "s": "s", "sec": "s", "seconds": "s",
    "l": "l", "liter": "l", "litre": "l", "liters": "l", "litres": "l", "gal": "gal",
    "bpm": "bpm", "gear": "gear", "count": "count", "": "",
}

# (from unit, to unit) -> (scale, offset): canonical = source * scale + offset.
UNIT_CONVERSIONS: dict[tuple[str, str], tuple[float, float]] = {
    ("km/h", "km/h"): (1.0, 0.0),
    ("m/s", "km/h"): (3.6, 0.0),
    ("mph", "km/h"): (1.609344, 0.0),
    ("kn", "km/h"): (1.852, 0.0),
    ("ft/s", "km/h"): (1.09728, 0.0),
    ("fraction", "fraction"): (1.0, 0.0),
    ("%", "fraction"): (0.01, 0.0),
    ("deg", "deg"): (1.0, 0.0),
    ("rad", "deg"): (180.0 / math.pi, 0.0),
    ("deg/s", "deg/s"): (1.0, 0.0),
    ("rad/s", "deg/s"): (180.0 / math.pi, 0.0),
    ("m", "m"): (1.0, 0.0),
    ("km", "m"): (1000.0, 0.0),
    ("ft", "m"): (0.3048, 0.0),
    ("mi", "m"): (1609.344, 0.0),
    ("C", "C"): (1.0, 0.0),
    ("F", "C"): (5.0 / 9.0, -32.0 * 5.0 / 9.0),
    ("K", "C"): (1.0, -273.15),
    ("kPa", "kPa"): (1.0, 0.0),
    ("bar", "kPa"): (100.0, 0.0),
    ("psi", "kPa"): (6.894757293168, 0.0),
    ("Pa", "kPa"): (0.001, 0.0),
    ("hPa", "kPa"): (0.1, 0.0),
    ("g", "g"): (1.0, 0.0),
    ("m/s^2", "g"): (1.0 / 9.80665, 0.0),
    ("rpm", "rpm"): (1.0, 0.0),
    ("l", "l"): (1.0, 0.0),
    ("gal", "l"): (3.785411784, 0.0),
    ("bpm", "bpm"): (1.0, 0.0),
    ("gear", "gear"): (1.0, 0.0),
    ("count", "count"): (1.0, 0.0),
}

_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def normalize_name(name: str) -> str:
    """Return ``name`` lower-cased with each run of other characters replaced by ``_``."""
    return _NON_ALNUM.sub("_", name.strip().lower()).strip("_")


def normalize_unit(unit: str) -> str | None:
    """Return the table's spelling of ``unit``, or None when the unit is unknown."""
    key = unit.strip().lower()
    if key in UNIT_SYNONYMS:
        return UNIT_SYNONYMS[key]
    key = key.replace(" ", "")
    return UNIT_SYNONYMS.get(key)


def canonical_for(name: str) -> Canonical | None:
    """Return the canonical channel that ``name`` is an alias of, or None."""
    key = normalize_name(name)
    target = _ALIASES.get(key)
    return BY_NAME[target] if target else None


def conversion(source_unit: str, canonical: Canonical) -> tuple[float, float] | None:
    """Return ``(scale, offset)`` converting ``source_unit`` to the canonical unit, or None.

    A channel whose file states no unit is read in the canonical channel's ``default_unit``.
    """
    unit = normalize_unit(source_unit) if source_unit.strip() else canonical.default_unit
    if unit is None:
        return None
    return UNIT_CONVERSIONS.get((unit, canonical.unit))
