"""CSV exports of iRacing telemetry, recognised by iRacing's variable names.

Tools that export iRacing telemetry to CSV keep the SDK's variable names (SessionTime, LapDistPct,
SteeringWheelAngle, ...) and its SI units: speed in m/s, angles in rad, accelerations in m/s^2.
The SDK labels every 0..1 quantity "%" (Throttle, Brake, LapDistPct, FuelLevelPct), so this
reader restates those units as "fraction". A "%" column whose values go beyond 1.5 was scaled to
0..100 by the exporting tool and keeps its "%" unit.

iRacing's Clutch and ClutchRaw are clutch engagement (0 disengaged, pedal pressed; 1 engaged,
pedal released), so they are turned into pedal position, 1 - engagement.

The layout (header, optional units row, separators, decimal marks) is read by the generic
delimited reader; only names and units are iRacing-specific.
"""

from __future__ import annotations

import numpy as np

from ..model import ParsedLog
from . import generic_csv
from .delimited import find_layout
from .text import looks_like_text, to_utf8

FORMAT = "iracing_csv"

# Variable names that only iRacing uses; two of them, or one of the first two, identify an export.
_DISTINCTIVE = (
    "SessionTime", "LapDistPct", "SteeringWheelAngle", "SessionTick", "LapCurrentLapTime",
    "ThrottleRaw", "BrakeRaw", "ClutchRaw", "PlayerCarIdx", "LapDist", "IsOnTrack", "OnPitRoad",
    "PlayerTrackSurface", "SessionFlags", "LapDeltaToBestLap", "FuelLevelPct", "SteeringWheelTorque",
    "LongAccel", "LatAccel", "VertAccel", "YawRate", "SessionTimeOfDay", "LapCompleted",
)

# Units of iRacing variables, used when the export has no units row.
_UNITS = {
    "SessionTime": "s", "SessionTimeOfDay": "s", "LapCurrentLapTime": "s", "LapLastLapTime": "s",
    "LapBestLapTime": "s", "LapDeltaToBestLap": "s",
    "Speed": "m/s", "VelocityX": "m/s", "VelocityY": "m/s", "VelocityZ": "m/s",
    "RPM": "rpm", "Gear": "gear", "Lap": "count", "LapCompleted": "count",
    "LapDist": "m", "LapDistPct": "fraction",
    "Throttle": "fraction", "ThrottleRaw": "fraction", "Brake": "fraction", "BrakeRaw": "fraction",
    "Clutch": "fraction", "ClutchRaw": "fraction", "HandbrakeRaw": "fraction",
    "FuelLevelPct": "fraction",
    "SteeringWheelAngle": "rad", "SteeringWheelAngleMax": "rad",
    "Yaw": "rad", "YawNorth": "rad", "Pitch": "rad", "Roll": "rad",
    "YawRate": "rad/s", "PitchRate": "rad/s", "RollRate": "rad/s",
    "LatAccel": "m/s^2", "LongAccel": "m/s^2", "VertAccel": "m/s^2",
    "Lat": "deg", "Lon": "deg", "Alt": "m",
    "FuelLevel": "l", "OilTemp": "C", "WaterTemp": "C", "OilPress": "bar", "FuelPress": "bar",
    "TrackTemp": "C", "AirTemp": "C",
}
# iRacing's spelling of units that the channel table spells otherwise.
_UNIT_SPELLINGS = {"revs/min": "rpm"}
_CLUTCH = ("Clutch", "ClutchRaw")
# A "%" column whose largest value is above this was written as 0..100 by the exporting tool.
_FRACTION_LIMIT = 1.5


def sniff(head: bytes, name: str) -> float:
    """Return 0.9 when the header row contains iRacing variable names, else 0.0."""
    body, _encoding = to_utf8(head)
    if not looks_like_text(body[:4096]):
        return 0.0
    layout = find_layout(body, complete=len(head) < 64 * 1024)
    if layout is None or not layout.header_found:
        return 0.0
    names = {n.strip() for n in layout.names}
    distinctive = names.intersection(_DISTINCTIVE)
    if len(distinctive) >= 2 or distinctive & {"SessionTime", "LapDistPct"}:
        return 0.9
    return 0.0


def read(data: bytes, name: str, sidecars: dict[str, bytes] | None = None) -> ParsedLog:
    """Read an iRacing CSV export, with iRacing's units restated in the channel table's terms."""
    parsed = generic_csv.read_delimited(data, name, FORMAT, producer="iRacing")
    for ch in parsed.channels:
        unit = _UNIT_SPELLINGS.get(ch.unit.strip().lower(), ch.unit.strip())
        if not unit:
            unit = _UNITS.get(ch.name, "")
        if unit == "%":
            finite = ch.values[np.isfinite(ch.values)]
            if finite.size == 0 or float(np.max(np.abs(finite))) <= _FRACTION_LIMIT:
                unit = "fraction"
            else:
                parsed.warnings.append(f"channel {ch.name!r} is labelled % and holds values above "
                                       f"{_FRACTION_LIMIT:g}; read as percent, not as a fraction")
        if ch.name in _CLUTCH and unit == "fraction":
            ch.values = 1.0 - ch.values
        ch.unit = unit
    return parsed
