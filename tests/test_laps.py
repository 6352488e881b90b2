"""Lap detection, classification, distance and lap storage on small inputs and synthetic tracks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import DATA

from common.formats import parse_path
from common.laps import (
    detect_laps,
    find_start_line,
    format_lap_table,
    format_lap_time,
    integrate_distance,
    lap_of_samples,
    line_crossings,
    store_laps,
    summarize_laps,
)
from common.laps.model import Lap
from common.laps.signals import step_breaks
from common.model import Metadata, ParsedLog, ProducerLap, SourceChannel
from common.normalize import normalize

LAPS = DATA / "laps"


def _session(time, channels, metadata=None, beacons=(), producer_laps=()):
    """Normalize a log built from ``(name, unit, values)`` triples on one time axis."""
    parsed = ParsedLog(
        file="built-in-test",
        format="test",
        time=np.asarray(time, dtype=float),
        channels=[SourceChannel(name, unit, np.asarray(values, dtype=float)) for name, unit, values in channels],
        metadata=metadata or Metadata(),
        beacons_s=list(beacons),
        producer_laps=list(producer_laps),
    )
    return normalize(parsed)


# --- Synthetic stadium-shaped track -------------------------------------------------------------
# Two 400 m straights joined by two half circles of 80 m radius. Lap position 0 is the middle of
# the bottom straight (driven eastwards), where the start/finish line crosses the track.

RADIUS_M = 80.0
STRAIGHT_M = 400.0
TRACK_M = 2 * STRAIGHT_M + 2 * math.pi * RADIUS_M
ORIGIN = (45.0, 10.0)
METRES_PER_DEG = math.pi / 180.0 * 6_371_008.8


def _track_xy(position_m):
    p = np.mod(np.asarray(position_m, dtype=float), TRACK_M)
    half, arc = STRAIGHT_M / 2, math.pi * RADIUS_M
    x, y = np.empty_like(p), np.empty_like(p)
    bottom_east = p < half
    x[bottom_east], y[bottom_east] = p[bottom_east], 0.0
    right = (p >= half) & (p < half + arc)
    angle = -math.pi / 2 + (p[right] - half) / RADIUS_M
    x[right], y[right] = half + RADIUS_M * np.cos(angle), RADIUS_M + RADIUS_M * np.sin(angle)
    top = (p >= half + arc) & (p < half + arc + STRAIGHT_M)
    x[top], y[top] = half - (p[top] - half - arc), 2 * RADIUS_M
    left = (p >= half + arc + STRAIGHT_M) & (p < half + 2 * arc + STRAIGHT_M)
    angle = math.pi / 2 + (p[left] - half - arc - STRAIGHT_M) / RADIUS_M
    x[left], y[left] = -half + RADIUS_M * np.cos(angle), RADIUS_M + RADIUS_M * np.sin(angle)
    bottom_west = p >= half + 2 * arc + STRAIGHT_M
    x[bottom_west], y[bottom_west] = -half + (p[bottom_west] - half - 2 * arc - STRAIGHT_M), 0.0
    return x, y


def _to_degrees(x_m, y_m):
    lat = ORIGIN[0] + np.asarray(y_m) / METRES_PER_DEG
    lon = ORIGIN[1] + np.asarray(x_m) / (METRES_PER_DEG * math.cos(math.radians(ORIGIN[0])))
    return lat, lon


def _point(x_m, y_m):
    lat, lon = _to_degrees(x_m, y_m)
    return float(lat), float(lon)


START_LINE = (_point(0.0, -15.0), _point(0.0, 15.0))


class Drive:
    """A drive around the synthetic track, planned as legs at constant speed and stops.

    Positions, speed (km/h) and pit status are sampled at ``rate_hz``. Samples strictly inside
    ``drop`` (start, end in seconds) are left out to make a recording gap. ``crossings_s`` are the
    exact times at which the car passes lap position 0.
    """

    def __init__(self, legs, start_m, rate_hz=10.0, drop=None):
        times, dist, speeds, pits = [0.0], [0.0], [], []
        for leg in legs:
            if leg[0] == "stop":
                _, seconds, pit = leg
                times.append(times[-1] + seconds)
                dist.append(dist[-1])
                speeds.append(0.0)
            else:
                metres, speed, pit = leg
                times.append(times[-1] + metres / speed)
                dist.append(dist[-1] + metres)
                speeds.append(speed)
            pits.append(pit)
        times, dist = np.array(times), np.array(dist)
        t = np.arange(0.0, times[-1] + 1e-9, 1.0 / rate_hz)
        leg_of = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(speeds) - 1)
        keep = np.ones(t.shape, dtype=bool) if drop is None else ~((t > drop[0]) & (t < drop[1]))
        self.t = t[keep]
        self.speed_kmh = np.array(speeds)[leg_of][keep] * 3.6
        self.on_pit = np.array(pits, dtype=float)[leg_of][keep]
        self.lat, self.lon = _to_degrees(*_track_xy(start_m + np.interp(self.t, times, dist)))
        laps_done = np.arange(1, int(dist[-1] // TRACK_M) + 2) * TRACK_M - start_m
        self.crossings_s = np.interp(laps_done[laps_done <= dist[-1]], dist, times)

    def session(self, speed=True, pit=True, start_line=None):
        channels = [("Latitude", "deg", self.lat), ("Longitude", "deg", self.lon)]
        if speed:
            channels.append(("Speed", "km/h", self.speed_kmh))
        if pit:
            channels.append(("OnPitRoad", "", self.on_pit))
        extra = {"start_line": start_line} if start_line is not None else {}
        return _session(self.t, channels, Metadata(extra=extra))


def _race_drive():
    """Out-lap from the pits, two flying laps, an in-lap, an out-lap after a 20 s stop, a lap
    with a 10 s recording gap, one more flying lap, and an in-lap that ends in the pits.

    Pit road runs along the main straight from 150 m before the line to 150 m after it.
    """
    lap = TRACK_M
    legs = [
        ("stop", 10.0, 1), (100.0, 15.0, 1), (lap - 150.0, 40.0, 0),     # out-lap from the box
        (lap, 40.0, 0),                                                 # lap 1
        (lap, 42.0, 0),                                                 # lap 2
        (lap - 150.0, 38.0, 0), (150.0, 15.0, 1),                       # lap 3, into pit road
        (50.0, 15.0, 1), ("stop", 20.0, 1), (100.0, 15.0, 1), (lap - 150.0, 40.0, 0),  # lap 4
        (lap, 40.0, 0),                                                 # lap 5, with the gap
        (lap, 41.0, 0),                                                 # lap 6
        (lap - 150.0, 39.0, 0), (50.0, 15.0, 1), ("stop", 5.0, 1),     # lap 7, ends in the box
    ]
    return Drive(legs, start_m=50.0, drop=(215.0, 225.0))


RACE_KINDS = ["out", "flying", "flying", "in", "out", "partial", "flying", "in"]
RACE_VALID = [False, True, True, False, False, False, True, False]


# --- Cases: beacons, lap-distance wrap, pit road, distance ----------------------------------------

def test_beacon_laps_boundaries():
    session = parse_path(LAPS / "beacon_laps.csv")
    laps = detect_laps(session)
    assert [lap.number for lap in laps] == [0, 1, 2]
    assert [lap.kind for lap in laps] == ["out", "flying", "in"]
    assert [lap.valid for lap in laps] == [False, True, False]
    assert [lap.source for lap in laps] == ["beacon"] * 3
    assert laps[1].start_s == pytest.approx(25.0)
    assert laps[1].end_s == pytest.approx(55.0)
    assert laps[1].lap_time_s == 30.0


def test_beacon_laps_samples():
    session = parse_path(LAPS / "beacon_laps.csv")
    numbers = lap_of_samples(session.elapsed_s, detect_laps(session))
    by_time = dict(zip(session.elapsed_s.tolist(), numbers.tolist()))
    assert [by_time[t] for t in (0.0, 10.0, 20.0)] == [0, 0, 0]
    assert [by_time[t] for t in (30.0, 40.0, 50.0)] == [1, 1, 1]
    assert [by_time[t] for t in (60.0, 70.0)] == [2, 2]


def test_beacon_at_recording_end_ignored():
    # AiM writes the end of the session as a last beacon marker; it is not a line crossing.
    session = _session(np.arange(0.0, 30.01, 0.5), [("Speed", "km/h", np.full(61, 100.0))],
                       beacons=[10.0, 20.0, 30.0])
    laps = detect_laps(session)
    assert [lap.kind for lap in laps] == ["out", "flying", "in"]
    assert laps[-1].end_s == 30.0


def test_beacon_at_recording_start_is_crossing():
    session = _session(np.arange(0.0, 30.01, 0.5), [("Speed", "km/h", np.full(61, 100.0))],
                       beacons=[0.0, 20.0])
    laps = detect_laps(session)
    assert [lap.number for lap in laps] == [1, 2]
    assert [lap.kind for lap in laps] == ["flying", "in"]


def test_wrap_crossing_interpolated():
    session = parse_path(LAPS / "counter_lag.csv")
    laps = detect_laps(session)
    assert len(laps) == 2
    assert laps[1].start_s == pytest.approx(0.1625, abs=1e-9)
    assert laps[0].source == "lap_distance_pct"


def test_wrap_decides_over_lagging_counter():
    session = parse_path(LAPS / "counter_lag.csv")
    laps = detect_laps(session)
    numbers = lap_of_samples(session.elapsed_s, laps)
    assert [lap.number for lap in laps] == [7, 8]
    assert numbers[session.elapsed_s < 0.2].tolist() == [7, 7]
    assert numbers[session.elapsed_s >= 0.2].tolist() == [8, 8, 8, 8]


def test_wrap_ignores_flickering_counter():
    t = np.arange(0.0, 3.0, 0.1)
    fraction = np.mod(0.90 + t * 0.1, 1.0)  # crosses the line at t = 1.0 s
    counter = np.where(t < 1.0, 3, 4).astype(float)
    counter[[11, 13]] = 3  # flicker back to the old number after the line
    counter[[2, 5]] = 4  # flicker ahead of the line
    session = _session(t, [("Lap", "", counter), ("LapDistPct", "", fraction)])
    laps = detect_laps(session)
    assert len(laps) == 2
    assert laps[1].start_s == pytest.approx(1.0, abs=1e-9)
    assert [lap.number for lap in laps] == [3, 4]


def test_wrap_backwards_counts_once():
    # A car rocking across the line: forward, back, forward again is one crossing.
    t = np.arange(0.0, 1.0, 0.1)
    fraction = [0.97, 0.99, 0.01, 0.99, 0.02, 0.05, 0.08, 0.11, 0.14, 0.17]
    laps = detect_laps(_session(t, [("LapDistPct", "", fraction)]))
    assert len(laps) == 2
    assert laps[1].start_s == pytest.approx(0.15, abs=1e-9)


def test_counter_only_flicker_ignored():
    t = np.arange(0.0, 20.0, 0.1)
    counter = np.where(t < 10.0, 1.0, 2.0)
    counter[(t >= 3.0) & (t < 3.3)] = 2.0
    session = _session(t, [("Lap Number", "", counter)])
    laps = detect_laps(session)
    assert [lap.number for lap in laps] == [1, 2]
    assert laps[1].start_s == pytest.approx(10.0)
    assert laps[0].source == "lap_number"


def test_counter_refined_by_running_lap_time():
    # A lap number that changes 2.7 s after the line, and a running lap time that resets there.
    t = np.arange(0.0, 120.0, 0.1)
    line_s = [40.05, 100.55]
    counter = np.select([t >= line_s[1] + 2.7, t >= line_s[0] + 2.7], [2.0, 1.0], 0.0)
    running = np.select([t >= line_s[1], t >= line_s[0]], [t - line_s[1], t - line_s[0]], t + 20.0)
    session = _session(t, [("Lap Number", "", counter), ("Running Lap Time", "s", running)])
    laps = detect_laps(session)
    assert laps[1].start_s == pytest.approx(line_s[0], abs=1e-6)
    assert laps[2].start_s == pytest.approx(line_s[1], abs=1e-6)
    assert laps[1].lap_time_s == 60.5


def test_counter_constant_running_time_unused():
    # iRacing writes LapCurrentLapTime 0 while the car sits in the pits: it gives no lap start.
    t = np.arange(0.0, 60.0, 0.1)
    counter = np.where(t >= 30.0, 2.0, 1.0)
    session = _session(t, [("Lap", "", counter), ("LapCurrentLapTime", "s", np.zeros(t.size))])
    laps = detect_laps(session)
    assert laps[1].start_s == pytest.approx(30.0)


def test_out_flying_in_pit_road():
    laps = detect_laps(parse_path(LAPS / "pit_out_in.csv"))
    assert [lap.kind for lap in laps] == ["out", "flying", "in"]
    assert [lap.valid for lap in laps] == [False, True, False]
    assert laps[0].start_s == 0.0
    assert laps[0].end_s == pytest.approx(20.667, abs=5e-4)
    assert laps[1].end_s == pytest.approx(81.818, abs=5e-4)
    assert laps[2].end_s == 100.0
    assert laps[1].lap_time_s == 61.152


def test_out_flying_in_reasons():
    laps = detect_laps(parse_path(LAPS / "pit_out_in.csv"))
    assert "starts on pit road" in laps[0].reason
    assert laps[1].reason is None
    assert "ends on pit road" in laps[2].reason


def test_recording_starts_mid_lap_on_track():
    t = np.arange(0.0, 10.0, 1.0)
    fraction = [0.5, 0.6, 0.7, 0.8, 0.9, 0.0, 0.1, 0.2, 0.3, 0.4]
    pit = np.zeros(10)
    laps = detect_laps(_session(t, [("LapDistPct", "", fraction), ("OnPitRoad", "", pit)]))
    assert [lap.kind for lap in laps] == ["partial", "partial"]
    assert laps[0].reason == "recording starts mid-lap"
    assert laps[1].reason == "recording ends mid-lap"


def test_integrate_distance_uneven_steps():
    session = parse_path(LAPS / "uneven_steps.csv")
    assert integrate_distance(session).tolist() == pytest.approx([0.0, 7.5, 27.5, 35.0])


def test_integrate_distance_gpx_segments():
    session = parse_path(LAPS / "two_segments.gpx")
    distance = integrate_distance(session)
    assert distance[-1] == pytest.approx(222.39, abs=0.05)
    assert distance[2] - distance[1] == 0.0


def test_integrate_distance_stops_at_gap():
    t = [0.0, 1.0, 2.0, 60.0, 61.0]
    session = _session(t, [("Speed", "km/h", [36.0] * 5)])
    assert integrate_distance(session).tolist() == pytest.approx([0.0, 10.0, 20.0, 20.0, 30.0])


def test_integrate_distance_from_positions():
    lat = [0.0, 0.0, 0.0]
    lon = [0.0, 0.001, 0.002]
    session = _session([0.0, 1.0, 2.0], [("Latitude", "deg", lat), ("Longitude", "deg", lon)])
    assert integrate_distance(session)[-1] == pytest.approx(222.39, abs=0.05)


def test_integrate_distance_without_sources():
    session = _session([0.0, 1.0], [("Gear", "", [3.0, 4.0])])
    assert np.isnan(integrate_distance(session)).all()


def test_lap_distance_from_source_channel():
    # LapDist resets at the line; the lap between two resets is as long as the track.
    t = np.arange(0.0, 50.0, 0.5)
    lap_dist = np.mod(t * 50.0 + 300.0, 1000.0)
    session = _session(t, [("LapDist", "m", lap_dist), ("Lap", "", np.floor((t * 50.0 + 300.0) / 1000.0))])
    laps = detect_laps(session)
    assert [lap.kind for lap in laps] == ["out", "flying", "in"]
    assert laps[1].distance_m == pytest.approx(1000.0, abs=1.0)


# --- Synthetic multi-lap sessions -----------------------------------------------------------------

def test_synthetic_race_kinds():
    drive = _race_drive()
    laps = detect_laps(drive.session(start_line=START_LINE))
    assert [lap.number for lap in laps] == list(range(8))
    assert [lap.kind for lap in laps] == RACE_KINDS
    assert [lap.valid for lap in laps] == RACE_VALID
    assert {lap.source for lap in laps} == {"start_line"}


# Where the speed changes at the line, interpolating between samples 0.1 s apart misplaces the
# crossing by up to 0.1 s x (speed change / speed), here 5 ms.
CROSSING_TOLERANCE_S = 0.005


def test_synthetic_race_crossings():
    drive = _race_drive()
    laps = detect_laps(drive.session(start_line=START_LINE))
    starts = np.array([lap.start_s for lap in laps[1:]])
    assert len(drive.crossings_s) == 7
    assert np.abs(starts - drive.crossings_s).max() < CROSSING_TOLERANCE_S


def test_synthetic_race_lap_times():
    drive = _race_drive()
    laps = detect_laps(drive.session(start_line=START_LINE))
    assert laps[1].lap_time_s == pytest.approx(TRACK_M / 40.0, abs=2 * CROSSING_TOLERANCE_S)
    assert laps[2].lap_time_s == pytest.approx(TRACK_M / 42.0, abs=2 * CROSSING_TOLERANCE_S)
    assert laps[6].lap_time_s == pytest.approx(TRACK_M / 41.0, abs=2 * CROSSING_TOLERANCE_S)


def test_synthetic_race_distances():
    drive = _race_drive()
    laps = detect_laps(drive.session(start_line=START_LINE))
    for lap in (laps[1], laps[2], laps[6]):
        assert lap.distance_m == pytest.approx(TRACK_M, abs=2.0)
    # Lap 5 loses the 10 s (400 m) inside the recording gap.
    assert laps[5].distance_m == pytest.approx(TRACK_M - 400.0, abs=5.0)
    assert laps[5].reason == "spans a recording gap"


def test_synthetic_race_speeds():
    drive = _race_drive()
    laps = detect_laps(drive.session(start_line=START_LINE))
    assert laps[2].max_speed_kmh == pytest.approx(42.0 * 3.6)
    assert laps[2].mean_speed_kmh == pytest.approx(42.0 * 3.6, abs=0.5)


def test_synthetic_race_caller_line():
    drive = _race_drive()
    laps = detect_laps(drive.session(), start_line=START_LINE)
    assert [lap.kind for lap in laps] == RACE_KINDS
    assert [lap.valid for lap in laps] == RACE_VALID


def test_synthetic_race_without_pit_channel():
    drive = _race_drive()
    laps = detect_laps(drive.session(pit=False, start_line=START_LINE))
    assert [lap.kind for lap in laps] == ["out", "flying", "flying", "flying", "flying", "partial",
                                         "flying", "in"]
    assert [lap.valid for lap in laps] == [False, True, True, True, False, False, True, False]
    assert laps[4].reason == "stands still for 20 s"


def test_synthetic_auto_line_constant_speed():
    drive = Drive([(TRACK_M * 5.5, 40.0, 0)], start_m=700.0)
    laps = detect_laps(drive.session(pit=False))
    flying = [lap for lap in laps if lap.kind == "flying"]
    assert laps[0].source == "auto_start_line"
    # 5.5 laps hold 4 or 5 complete laps, depending on where the line is put.
    assert len(flying) in (4, 5)
    assert len(laps) == len(flying) + 2
    for lap in flying:
        assert lap.lap_time_s == pytest.approx(TRACK_M / 40.0, abs=0.002)
        assert lap.valid


def test_synthetic_auto_line_gps_only():
    drive = _race_drive()
    laps = detect_laps(drive.session(speed=False, pit=False))
    assert laps[0].source == "auto_start_line"
    assert len(laps) == 9
    assert laps[1].distance_m == pytest.approx(TRACK_M, abs=3.0)
    assert laps[1].max_speed_kmh == pytest.approx(40.0 * 3.6, abs=1.0)


def test_auto_line_needs_repeated_path():
    drive = Drive([(TRACK_M * 1.5, 40.0, 0)], start_m=0.0)
    session = drive.session(speed=False, pit=False)
    assert find_start_line(session.elapsed_s, drive.lat, drive.lon, step_breaks(session)) is None
    laps = detect_laps(session)
    assert len(laps) == 1
    assert laps[0].kind == "partial"


def test_missed_crossing_marked():
    drive = Drive([(TRACK_M * 6.5, 40.0, 0)], start_m=50.0)
    session = drive.session(pit=False)
    lat, lon = session.channel("latitude").values, session.channel("longitude").values
    # No position while passing the line the third time: the crossing is lost.
    near_third = (session.elapsed_s > drive.crossings_s[2] - 1.0) & (session.elapsed_s < drive.crossings_s[2] + 1.0)
    lat[near_third] = np.nan
    lon[near_third] = np.nan
    laps = detect_laps(session, start_line=START_LINE)
    long_lap = [lap for lap in laps if lap.reason and "a line crossing is missing" in lap.reason]
    assert len(long_lap) == 1
    assert long_lap[0].distance_m == pytest.approx(2 * TRACK_M, abs=5.0)


# --- Line crossings -------------------------------------------------------------------------------

def test_line_crossing_interpolated():
    x = np.array([-20.0, -5.0, 10.0, 25.0])
    lat, lon = _to_degrees(x, np.zeros(4))
    t = np.array([0.0, 1.0, 2.0, 3.0])
    times = line_crossings(t, lat, lon, np.zeros(3, dtype=bool), START_LINE)
    assert times == pytest.approx([1.0 + 5.0 / 15.0])


def test_line_jitter_counts_once():
    # A car standing on the line with GPS noise, then driving off: one crossing, at departure.
    rng = np.random.default_rng(7)
    standing = rng.normal(0.0, 1.0, 100)
    driving = 2.0 + np.arange(1, 51) * 4.0
    x = np.concatenate((standing, driving))
    t = np.arange(x.size) * 0.1
    lat, lon = _to_degrees(x, np.zeros(x.size))
    times = line_crossings(t, lat, lon, np.zeros(x.size - 1, dtype=bool), START_LINE)
    assert len(times) == 1
    # The last standing sample is 2 m before the line, the first moving one 6 m past it.
    assert times[0] == pytest.approx(9.9 + 0.1 * 2.035 / 8.035, abs=1e-3)


def test_line_reverse_crossing_ignored():
    x = np.array([-10.0, 10.0, 30.0, 10.0, -10.0, -30.0, -10.0, 10.0])
    lat, lon = _to_degrees(x, np.zeros(x.size))
    t = np.arange(x.size) * 20.0
    times = line_crossings(t, lat, lon, np.zeros(x.size - 1, dtype=bool), START_LINE)
    assert times == pytest.approx([10.0, 130.0])


def test_line_crossing_skips_gap():
    x = np.array([-20.0, -10.0, 10.0, 20.0])
    lat, lon = _to_degrees(x, np.zeros(4))
    t = np.array([0.0, 1.0, 2.0, 3.0])
    breaks = np.array([False, True, False])
    assert line_crossings(t, lat, lon, breaks, START_LINE) == []


def test_invalid_start_line_rejected():
    drive = Drive([(TRACK_M * 2.5, 40.0, 0)], start_m=50.0)
    with pytest.raises(ValueError, match="invalid start line"):
        detect_laps(drive.session(pit=False), start_line=((45.0, 10.0), (45.0, 10.0)))
    with pytest.raises(ValueError, match="invalid start line"):
        detect_laps(drive.session(pit=False), start_line=((95.0, 10.0), (45.0, 10.0)))


def test_invalid_file_line_ignored():
    drive = Drive([(TRACK_M * 4.5, 40.0, 0)], start_m=50.0)
    laps = detect_laps(drive.session(pit=False, start_line=((45.0, 10.0), (45.0, 10.0))))
    assert laps[0].source == "auto_start_line"


def test_caller_line_below_beacons():
    t = np.arange(0.0, 60.0, 0.5)
    session = _session(t, [("Latitude", "deg", np.full(t.size, 45.0)),
                           ("Longitude", "deg", np.full(t.size, 10.0))], beacons=[20.0, 40.0])
    laps = detect_laps(session, start_line=START_LINE)
    assert [lap.source for lap in laps] == ["beacon"] * 3


def test_pit_events_give_pit_status():
    # TrackAddict-style events: on pit road from each entry to the next exit.
    t = np.arange(0.0, 100.0, 0.5)
    events = [{"time_s": 0.0, "text": "Pit Lane Exit"}, {"time_s": 70.0, "text": "Pit Lane Entry"},
              {"time_s": 75.0, "text": "Session End"}]
    session = _session(t, [("Speed", "km/h", np.full(t.size, 100.0))], metadata=Metadata(extra={"events": events}),
                       beacons=[10.0, 40.0, 80.0])
    laps = detect_laps(session)
    assert [lap.kind for lap in laps] == ["partial", "flying", "in", "in"]
    assert laps[2].reason == "ends on pit road"


# --- Producer laps, sectors, export ranges ----------------------------------------------------------

def test_producer_laps_matched():
    t = np.arange(0.0, 100.0, 0.5)
    producer = [ProducerLap(1, 40.02, start_s=20.0, sector_times_s=[15.0, 25.02]),
                ProducerLap(2, 30.0, start_s=60.0)]
    session = _session(t, [("Speed", "km/h", np.full(t.size, 100.0))], beacons=[20.0, 60.0],
                       producer_laps=producer)
    laps = detect_laps(session)
    assert laps[1].producer_lap_time_s == 40.02
    assert laps[1].sector_times_s == [15.0, 25.02]
    # Producer lap 2 lasted 30 s, but the recording continues for 39.5 s after the crossing.
    assert laps[2].producer_lap_time_s is None


def test_producer_laps_by_number():
    t = np.arange(0.0, 100.0, 0.5)
    session = _session(t, [("Speed", "km/h", np.full(t.size, 100.0))], beacons=[20.0, 60.0],
                       producer_laps=[ProducerLap(1, 40.0)])
    laps = detect_laps(session)
    assert laps[1].producer_lap_time_s == 40.0
    assert laps[0].producer_lap_time_s is None


def test_split_beacons_sectors():
    t = np.arange(0.0, 100.0, 0.5)
    metadata = Metadata(extra={"split_beacons_s": [35.0, 47.5]})
    session = _session(t, [("Speed", "km/h", np.full(t.size, 100.0))], metadata=metadata,
                       beacons=[20.0, 60.0])
    laps = detect_laps(session)
    assert laps[1].sector_times_s == [15.0, 12.5, 12.5]
    assert laps[0].sector_times_s == []


def test_export_range_single_lap():
    t = np.arange(0.0, 60.01, 0.02)
    metadata = Metadata(extra={"range": "Lap 3"})
    session = _session(t, [("Speed", "km/h", np.full(t.size, 90.0))], metadata=metadata)
    laps = detect_laps(session)
    assert len(laps) == 1
    assert laps[0].number == 3
    assert laps[0].kind == "flying"
    assert laps[0].lap_time_s == 60.0
    assert laps[0].source == "export_range"


def test_empty_session_no_laps():
    session = _session([0.0], [("Speed", "km/h", [10.0])])
    laps = detect_laps(session)
    assert len(laps) == 1
    assert laps[0].lap_time_s == 0.0


# --- Summary, table and storage ---------------------------------------------------------------------

def _laps_for_report():
    return [
        Lap(0, 0.0, 25.0, 25.0, 900.0, "out", False, "starts before the first line crossing", 151.2, 127.8,
            source="beacon"),
        Lap(1, 25.0, 87.5, 62.5, 2400.0, "flying", True, None, 201.0, 138.2, [20.1, 42.4], "beacon", 62.48),
        Lap(2, 87.5, 148.25, 60.75, 2401.0, "flying", True, None, 203.0, 142.0, [], "beacon"),
        Lap(3, 148.25, 160.0, 11.75, float("nan"), "in", False, "ends after the last line crossing", None, None,
            source="beacon"),
    ]


def test_summarize_laps_values():
    summary = summarize_laps(_laps_for_report())
    assert summary["count"] == 4
    assert summary["valid_count"] == 2
    assert summary["best_lap_number"] == 2
    assert summary["best_lap_time_s"] == 60.75
    assert summary["mean_valid_lap_time_s"] == 61.625


def test_summarize_laps_none_valid():
    summary = summarize_laps(_laps_for_report()[:1])
    assert summary["best_lap_number"] is None
    assert summary["mean_valid_lap_time_s"] is None


def test_format_lap_time_values():
    assert format_lap_time(61.152) == "1:01.152"
    assert format_lap_time(3725.5) == "1:02:05.500"
    assert format_lap_time(None) == "-"


def test_format_lap_table_rows():
    text = format_lap_table(_laps_for_report())
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["lap", "kind", "valid"]
    assert len(lines) == 7
    assert lines[4].split()[:5] == ["2*", "flying", "yes", "87.500", "1:00.750"]
    assert "1:02.480" in lines[3]
    assert "20.100 42.400" in lines[3]
    assert lines[-1].startswith("4 laps, 2 valid; best lap 2: 1:00.750")


def test_format_lap_table_empty():
    assert format_lap_table([]) == "no laps"


def _new_session(db) -> int:
    rows = db.run("INSERT INTO sessions (session_id) VALUES (:id) RETURNING session_key", id="a" * 64)
    return rows[0][0]


def test_store_laps_rows(db):
    key = _new_session(db)
    store_laps(db, key, _laps_for_report())
    rows = db.run("SELECT lap_number, kind, valid, lap_time_s, distance_m, sector_times_s, source,"
                  " producer_lap_time_s, max_speed_kmh FROM laps WHERE session_key = :k ORDER BY lap_number",
                  k=key)
    assert [r[0] for r in rows] == [0, 1, 2, 3]
    assert rows[1][1:4] == ["flying", True, 62.5]
    assert rows[1][5] == [20.1, 42.4]
    assert rows[2][5] == []
    assert rows[1][6] == "beacon"
    assert rows[1][7] == 62.48
    assert rows[3][4] is None
    assert rows[3][8] is None


def test_store_laps_replaces(db):
    key = _new_session(db)
    store_laps(db, key, _laps_for_report())
    store_laps(db, key, _laps_for_report()[1:2])
    rows = db.run("SELECT lap_number FROM laps WHERE session_key = :k", k=key)
    assert rows == [[1]]


def test_store_laps_rolls_back(db):
    key = _new_session(db)
    store_laps(db, key, _laps_for_report())
    bad = _laps_for_report()[1:2]
    bad[0].kind = "warm-up"
    with pytest.raises(Exception, match="laps_kind_check"):
        store_laps(db, key, bad)
    rows = db.run("SELECT count(*) FROM laps WHERE session_key = :k", k=key)
    assert rows == [[4]]


def test_store_laps_in_caller_transaction(db):
    key = _new_session(db)
    store_laps(db, key, _laps_for_report())
    db.run("BEGIN")
    store_laps(db, key, [])
    assert db.run("SELECT count(*) FROM laps WHERE session_key = :k", k=key) == [[0]]
    db.run("ROLLBACK")
    assert db.run("SELECT count(*) FROM laps WHERE session_key = :k", k=key) == [[4]]


def test_store_detected_laps(db):
    key = _new_session(db)
    laps = detect_laps(parse_path(LAPS / "pit_out_in.csv"))
    store_laps(db, key, laps)
    rows = db.run("SELECT lap_number, start_s, end_s, lap_time_s, kind, valid, reason FROM laps"
                  " WHERE session_key = :k ORDER BY lap_number", k=key)
    assert [r[0] for r in rows] == [1, 2, 3]
    assert rows[1][1] == laps[1].start_s
    assert rows[1][3] == 61.152
    assert [r[4] for r in rows] == ["out", "flying", "in"]
    assert [r[5] for r in rows] == [False, True, False]
    assert rows[1][6] is None
