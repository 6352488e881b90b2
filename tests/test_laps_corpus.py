"""Lap detection on real files: detected laps against the lap times their producers wrote."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import CORPUS, corpus_file

from common.errors import ParseError
from common.formats import parse_path
from common.laps import detect_laps, lap_of_samples
from common.laps.signals import gap_threshold_s, step_breaks


def _load(relative: str):
    """Parse a corpus file, skipping the test when no reader for its format has landed yet."""
    path = corpus_file(relative)
    try:
        return parse_path(path)
    except ParseError as exc:
        if "not a telemetry format this tool reads" in str(exc):
            pytest.skip(f"no reader for {relative} yet: {exc}")
        raise


def _by_number(laps):
    return {lap.number: lap for lap in laps}


def _fix_period_s(session) -> float:
    """Median time between GPS fixes (samples where the latitude changes), in seconds."""
    lat = session.channel("latitude").values
    changed = np.nonzero(np.diff(lat) != 0)[0] + 1
    return float(np.median(np.diff(session.elapsed_s[changed])))


# --- MoTeC ---------------------------------------------------------------------------------------

def test_motec_beacons_laps():
    session = _load("motec_csv/arcayik_gt_grand_valley_60hz.csv")
    laps = detect_laps(session)
    assert session.beacons_s == [24.324, 190.167]
    assert [lap.kind for lap in laps] == ["out", "flying", "in"]
    assert laps[1].start_s == pytest.approx(24.324, abs=1e-9)
    assert laps[1].end_s == pytest.approx(190.167, abs=1e-9)
    assert laps[1].lap_time_s == 165.843
    assert laps[1].source == "beacon"


def test_motec_beacons_lap_distance():
    # The export's Distance channel runs from 0 to 6108 m over the outing.
    laps = detect_laps(_load("motec_csv/arcayik_gt_grand_valley_60hz.csv"))
    assert sum(lap.distance_m for lap in laps) == pytest.approx(6108.0, abs=1.0)
    assert laps[1].distance_m == pytest.approx(4927.0, abs=15.0)


@pytest.mark.parametrize("relative, number, duration_s", [
    ("motec_csv/kriscollier_ac_fs_uk_endurance_lap1.csv", 1, 57.040),
    ("motec_csv/jgbalves_Interlagos_Ohira_rfactor.csv", 2, 96.113),
])
def test_motec_single_lap_export(relative, number, duration_s):
    session = _load(relative)
    laps = detect_laps(session)
    period = 1.0 / session.metadata.sample_rate_hz
    assert session.metadata.extra["duration"] == f"{duration_s:.3f} s"
    assert len(laps) == 1
    assert laps[0].number == number
    assert laps[0].kind == "flying"
    assert laps[0].lap_time_s == pytest.approx(duration_s, abs=period)


def test_motec_ld_counter_refined():
    # No .ldx beside the log, so no beacons: the 1 Hz lap number changes 1.8 to 2.7 s after the
    # line, and the "Running Lap Time" channel gives the time each lap began.
    session = _load("motec_ld/afonso360_Sample1.ld")
    laps = detect_laps(session)
    assert [lap.kind for lap in laps] == ["out", "flying", "flying", "flying", "in"]
    assert laps[1].source == "lap_number"
    counter = session.channel("Lap Number").values
    change_s = session.elapsed_s[np.nonzero(np.diff(counter) > 0)[0] + 1]
    starts = np.array([lap.start_s for lap in laps[1:]])
    assert np.all(change_s - starts > 1.5)
    assert np.all(change_s - starts < 3.0)


def test_motec_ld_lap_times_match_logger():
    # The logger's own "Lap Time" channel contains the last completed lap's time.
    session = _load("motec_ld/afonso360_Sample1.ld")
    laps = detect_laps(session)
    lap_time = session.channel("Lap Time").values
    for lap in laps[1:4]:
        logged = lap_time[np.searchsorted(session.elapsed_s, lap.end_s + 5.0)]
        assert lap.lap_time_s == pytest.approx(logged, abs=0.015)


# --- AiM -----------------------------------------------------------------------------------------

def test_aim_segments_match_beacons():
    session = _load("aim_csv/doves_racestudio3_rotax_junior_kart.csv")
    edges = [0.0, *session.beacons_s]
    # Segment times are written to 0.1 s.
    for producer, start, end in zip(session.producer_laps, edges[:-1], edges[1:]):
        assert producer.start_s == start
        assert producer.lap_time_s == pytest.approx(end - start, abs=0.05)


def test_aim_recording_before_first_beacon():
    # The file's samples stop at 25.1 s, before the first beacon at 62.774 s. The recording
    # covers part of the out-lap only, so no producer lap can be matched.
    session = _load("aim_csv/doves_racestudio3_rotax_junior_kart.csv")
    laps = detect_laps(session)
    assert session.elapsed_s[-1] == pytest.approx(25.1)
    assert len(laps) == 1
    assert laps[0].kind == "partial"
    assert laps[0].producer_lap_time_s is None


# --- RaceChrono, TrackAddict ----------------------------------------------------------------------

def test_racechrono_lap_matches_producer():
    session = _load("racechrono/jlynx_taupo_race2_lap6_official_v3.csv")
    laps = _by_number(detect_laps(session))
    period = float(np.median(np.diff(session.elapsed_s)))
    assert sorted(laps) == [5, 6, 7]
    assert laps[6].kind == "flying"
    assert laps[6].valid
    assert laps[6].producer_lap_time_s == pytest.approx(106.44749)
    assert laps[6].lap_time_s == pytest.approx(106.44749, abs=max(period, 0.001))


def test_racechrono_partial_laps():
    laps = _by_number(detect_laps(_load("racechrono/jlynx_taupo_race2_lap6_official_v3.csv")))
    assert laps[5].kind == "out"
    assert laps[7].kind == "in"
    assert not laps[5].valid
    assert not laps[7].valid


def test_trackaddict_laps_match_producer():
    session = _load("trackaddict/thomasjungblut_STC_log_trackaddict435.csv")
    laps = _by_number(detect_laps(session))
    period = _fix_period_s(session)
    assert period == pytest.approx(1.0, abs=0.05)
    assert len(session.producer_laps) == 5
    for producer in session.producer_laps:
        lap = laps[producer.number]
        assert lap.producer_lap_time_s == producer.lap_time_s
        assert lap.lap_time_s == pytest.approx(producer.lap_time_s, abs=period)


def test_trackaddict_pit_events():
    # "# Pit Lane Entry" / "# Pit Lane Exit" comments give the pit status: every lap of this log
    # touches pit road.
    laps = _by_number(detect_laps(_load("trackaddict/thomasjungblut_STC_log_trackaddict435.csv")))
    assert [laps[n].kind for n in range(6)] == ["partial", "out", "out", "in", "in", "in"]
    assert not any(lap.valid for lap in laps.values())


# --- VBO, NMEA, iRacing -----------------------------------------------------------------------------

def test_vbo_start_line_laps():
    session = _load("vbox_vbo/doves_racebox_lignano.vbo")
    laps = detect_laps(session)
    flying = [lap for lap in laps if lap.kind == "flying"]
    valid = [lap for lap in flying if lap.valid]
    assert laps[0].source == "start_line"
    assert len(laps) == 14
    assert len(flying) == 12
    assert len(valid) == 10
    assert min(lap.lap_time_s for lap in valid) == 65.726
    assert all(65.0 < lap.lap_time_s < 72.0 for lap in valid)


def test_vbo_missed_crossings_flagged():
    # Twice the car leaves the track through the pits, where it does not cross the file's line.
    laps = detect_laps(_load("vbox_vbo/doves_racebox_lignano.vbo"))
    missing = [lap for lap in laps if lap.reason and "a line crossing is missing" in lap.reason]
    assert [lap.number for lap in missing] == [5, 9]
    for lap in missing:
        assert lap.distance_m == pytest.approx(2 * 1160.0, abs=100.0)


def test_vbo_auto_line_agrees():
    session = _load("vbox_vbo/doves_racebox_lignano.vbo")
    with_line = detect_laps(session)
    session.metadata.extra.pop("start_line")
    automatic = detect_laps(session)
    best_line = min(lap.lap_time_s for lap in with_line if lap.valid)
    best_auto = min(lap.lap_time_s for lap in automatic if lap.valid)
    assert automatic[0].source == "auto_start_line"
    assert best_auto == pytest.approx(best_line, abs=0.1)
    assert len([lap for lap in automatic if lap.kind == "flying"]) == 15


def test_nmea_auto_line_laps():
    session = _load("nmea/doves_okc_tillotson_kart.nmea")
    laps = detect_laps(session)
    valid = [lap for lap in laps if lap.valid]
    assert laps[0].source == "auto_start_line"
    assert len(valid) == 11
    assert all(55.0 < lap.lap_time_s < 57.5 for lap in valid)
    assert all(lap.distance_m == pytest.approx(993.0, abs=10.0) for lap in valid)


def test_ibt_out_lap_without_crossing():
    session = _load("iracing_ibt/itelem_amg.ibt")
    laps = detect_laps(session)
    assert len(laps) == 1
    assert laps[0].kind == "partial"
    assert laps[0].reason == "no line crossing in the recording; starts on pit road"


# --- Properties that hold for every readable corpus file -------------------------------------------

def _corpus_files():
    """Corpus telemetry files; the iRacing Data API results are not telemetry (common.results)."""
    if not CORPUS.exists():
        return []
    return sorted(str(p.relative_to(CORPUS)) for p in CORPUS.glob("*/*")
                  if p.suffix.lower() != ".md" and p.parent.name != "iracing_api_json")


@pytest.mark.parametrize("relative", _corpus_files())
def test_corpus_laps_cover_recording(relative):
    try:
        session = _load(relative)
    except ParseError as exc:
        pytest.skip(f"{relative} is not readable telemetry: {exc}")
    laps = detect_laps(session)
    t = session.elapsed_s
    assert laps[0].start_s == t[0]
    assert laps[-1].end_s == t[-1]
    assert all(a.end_s == b.start_s for a, b in itertools.pairwise(laps))
    assert all(a.number < b.number for a, b in itertools.pairwise(laps))
    assert (lap_of_samples(t, laps) >= 0).all()


@pytest.mark.parametrize("relative", _corpus_files())
def test_corpus_valid_laps_are_whole(relative):
    try:
        session = _load(relative)
    except ParseError as exc:
        pytest.skip(f"{relative} is not readable telemetry: {exc}")
    laps = detect_laps(session)
    breaks = step_breaks(session)
    t = session.elapsed_s
    for lap in laps:
        if not lap.valid:
            continue
        assert lap.kind == "flying"
        inside = (t[:-1] >= lap.start_s) & (t[1:] <= lap.end_s)
        assert not breaks[inside].any()
        assert np.diff(t)[inside].max(initial=0.0) <= gap_threshold_s(t)
