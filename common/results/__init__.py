"""iRacing Data API results and lap data: parsing, and storage in the ir_* tables."""

from .jsonio import load_payload, payload_kind
from .laps import parse_laps
from .model import DriverResult, Lap, LapData, Simsession, SubsessionResult, TeamResult
from .parse import parse_results
from .store import store_laps, store_results

__all__ = [
    "DriverResult",
    "Lap",
    "LapData",
    "Simsession",
    "SubsessionResult",
    "TeamResult",
    "load_payload",
    "payload_kind",
    "parse_laps",
    "parse_results",
    "store_laps",
    "store_results",
]
