"""Training features: exact values, no leakage, idempotent and incremental rebuilds."""

from __future__ import annotations

import copy
import hashlib
import json
import math
from datetime import UTC, datetime

import pytest
from conftest import corpus_file

from common.db.connect import connect
from common.features import BuildInProgress, rebuild_features, rebuild_options
from common.features.build import BUILD_LOCK_KEY
from common.results import store_results

A, B, C, D, E = 1, 2, 3, 4, 5
T100, T200 = 100, 200
RUNNING, DISCONNECTED = 0, 32


def entry(cust_id, finish, grid, incidents, oldi, newi, laps, reason=RUNNING, sr=(300, 300)):
    """One driver's race row in the API's shape: 0-based positions, sub_level hundredths."""
    return {
        "cust_id": cust_id, "display_name": f"Driver {cust_id}", "car_id": 41,
        "car_name": "Test Car", "car_class_id": 45, "car_class_name": "Test Class",
        "finish_position": finish, "finish_position_in_class": finish,
        "starting_position": grid, "starting_position_in_class": grid,
        "incidents": incidents, "laps_complete": laps, "laps_lead": 0,
        "reason_out_id": reason, "reason_out": "Running" if reason == RUNNING else "Disconnected",
        "oldi_rating": oldi, "newi_rating": newi, "old_license_level": 14,
        "new_license_level": 14, "old_sub_level": sr[0], "new_sub_level": sr[1],
        "best_lap_time": -1, "average_lap": 0, "interval": -1, "ai": False,
    }


def race_payload(subsession_id, start, track_id, rows, wrapped=False):
    """A subsession result in the API's shape: a practice simsession (-1) and the race (0).

    The practice positions are the race's reversed, so a feature that read the practice
    instead of the race would come out wrong.
    """
    practice = []
    for row in rows:
        p = copy.deepcopy(row)
        p["finish_position"] = len(rows) - 1 - row["finish_position"]
        p["starting_position"] = -1
        p["incidents"] = 17
        practice.append(p)
    content = {
        "subsession_id": subsession_id, "session_id": subsession_id * 10,
        "series_id": 210, "season_id": 3620, "series_name": "Test Series",
        "start_time": start, "end_time": None, "event_type": 5, "event_type_name": "Race",
        "license_category_id": 2, "license_category": "Road",
        "track": {"track_id": track_id, "track_name": f"Track {track_id}", "category_id": 2,
                  "category": "Road"},
        "weather": {"temp_units": 1, "temp_value": 20, "rel_humidity": 50, "skies": 0,
                    "wind_units": 1, "wind_value": 5, "wind_dir": 0, "precip_time_pct": 0},
        "session_results": [
            {"simsession_number": -1, "simsession_type": 3, "simsession_name": "PRACTICE",
             "results": practice},
            {"simsession_number": 0, "simsession_type": 6, "simsession_name": "RACE",
             "results": rows},
        ],
    }
    return {"headers": {}, "content": content} if wrapped else content


# The synthetic history. Race 103 and race 104 start at the same time: 103 counts as earlier
# (ties are broken by subsession_id). Driver A races 101, 102, 103, 105, 106, 107 and 108.
HISTORY = {
    101: race_payload(101, "2024-01-01T18:00:00Z", T100, [
        entry(A, 0, 1, 2, 1500, 1550, 10, sr=(250, 262)),
        entry(B, 1, 0, 4, 2000, 1980, 10),
        entry(C, 2, 2, 8, 1000, 990, 6, DISCONNECTED),
    ]),
    102: race_payload(102, "2024-01-02T18:00:00Z", T200, [
        entry(B, 0, 1, 1, 1980, 2040, 12),
        entry(D, 1, 2, 3, 3000, 3010, 12),
        entry(A, 2, 0, 0, 1550, 1530, 12, sr=(262, 270)),
    ], wrapped=True),
    103: race_payload(103, "2024-01-03T18:00:00Z", T100, [
        entry(C, 0, 2, 0, 990, 1060, 10),
        entry(A, 1, 1, 4, 1530, 1545, 10, sr=(270, 255)),
        entry(D, 2, 0, 6, 3010, 2950, 7, DISCONNECTED),
    ]),
    104: race_payload(104, "2024-01-03T18:00:00Z", T200, [
        entry(B, 0, 0, 0, 2040, 2070, 12),
        entry(E, 1, 1, 2, 1200, 1190, 12),
        entry(D, 2, 2, 5, 2950, 2900, 12),
    ]),
    105: race_payload(105, "2024-01-04T18:00:00Z", T200, [
        entry(E, 0, 0, 1, 1190, 1240, 12),
        entry(A, 1, 1, 3, 1545, 1500, 12, sr=(255, 250)),
    ]),
    106: race_payload(106, "2024-01-05T18:00:00Z", T200, [
        entry(A, 0, 1, 0, 1500, 1560, 12, sr=(250, 280)),
        entry(E, 1, 0, 7, 1240, 1200, 5, DISCONNECTED),
    ]),
    107: race_payload(107, "2024-01-06T18:00:00Z", T100, [
        entry(B, 0, 0, 2, 2070, 2100, 10),
        entry(A, 1, 1, 1, 1560, 1540, 10, sr=(280, 290)),
    ]),
    108: race_payload(108, "2024-01-08T18:00:00Z", T100, [
        entry(D, 0, 3, 1, 2900, 2960, 10),
        entry(A, 1, 2, 3, 1540, 1560, 10, sr=(290, 300)),
        entry(B, 2, 0, 0, 2100, 2080, 10),
        entry(C, 3, 1, 9, 1060, 1000, 4, DISCONNECTED),
    ]),
}

TARGET_COLUMNS = ("target_finish_position_1", "target_finish_position_in_class_1",
                  "target_incidents", "target_dnf", "target_irating_delta")


def store(db, *subsession_ids, history=HISTORY):
    for sid in subsession_ids:
        store_results(db, history[sid], f"race-{sid}.json")


def features(db, subsession_id, cust_id) -> dict:
    cols = [r[0] for r in db.run(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_name = 'ml_training_data' ORDER BY ordinal_position")]
    rows = db.run("SELECT * FROM ml_training_data WHERE subsession_id = :s AND cust_id = :c",
                  s=subsession_id, c=cust_id)
    assert len(rows) == 1, (subsession_id, cust_id)
    return dict(zip(cols, rows[0]))


def table(db) -> list:
    """Every row of ml_training_data as text, in key order."""
    return db.run("SELECT t::text FROM ml_training_data t ORDER BY subsession_id, cust_id")


@pytest.fixture()
def history_db(db):
    store(db, *HISTORY)
    rebuild_features(db)
    return db


def test_form_driver_a_race_108(history_db):
    f = features(history_db, 108, A)
    assert f["prior_races"] == 6
    # The 5 latest earlier races of A: 102, 103, 105, 106, 107.
    assert f["form_races"] == 5
    # 1-based finishes 3, 2, 2, 1, 2.
    assert f["form_finish_position_mean"] == pytest.approx(2.0)
    # Incidents 0, 4, 3, 0, 1.
    assert f["form_incidents_mean"] == pytest.approx(1.6)
    assert f["form_dnf_rate"] == pytest.approx(0.0)
    # One win (106) in five.
    assert f["form_win_rate"] == pytest.approx(0.2)
    assert f["form_top5_rate"] == pytest.approx(1.0)
    assert f["form_top10_rate"] == pytest.approx(1.0)
    # iRating changes -20, +15, -45, +60, -20: sum -10.
    assert f["form_irating_delta_mean"] == pytest.approx(-2.0)
    # newi_rating 1530, 1545, 1500, 1560, 1540 at race numbers 2..6: mean x 4, mean y 1535,
    # Sxy = (-2)(-5) + (-1)(10) + 0 + (1)(25) + (2)(5) = 35, Sxx = 10, slope 3.5 per race.
    assert f["form_irating_slope_per_race"] == pytest.approx(3.5)
    # Safety rating changes +0.08, -0.15, -0.05, +0.30, +0.10: sum 0.28.
    assert f["form_safety_rating_delta_mean"] == pytest.approx(0.056)
    # Race 107 started 2024-01-06 18:00, race 108 2024-01-08 18:00.
    assert f["days_since_last_race"] == pytest.approx(2.0)


def test_track_driver_a_race_108(history_db):
    f = features(history_db, 108, A)
    # A at track 100 before: 101 (1st), 103 (2nd), 107 (2nd).
    assert f["driver_track_prior_races"] == 3
    assert f["driver_track_finish_position_mean"] == pytest.approx(5 / 3)
    # Track 100 before race 108: races 101 (incidents 2+4+8, laps 10+10+6, 1 DNF),
    # 103 (0+4+6, 10+10+7, 1 DNF) and 107 (2+1, 10+10, no DNF): 27 incidents, 8 drivers,
    # 73 laps, 2 DNFs.
    assert f["track_prior_races"] == 3
    assert f["track_incidents_per_driver"] == pytest.approx(27 / 8)
    assert f["track_incidents_per_100_laps"] == pytest.approx(2700 / 73)
    assert f["track_dnf_rate"] == pytest.approx(0.25)


def test_field_driver_a_race_108(history_db):
    f = features(history_db, 108, A)
    # Opponents' iRatings before race 108: B 2100, C 1060, D 2900.
    assert f["opp_irating_mean"] == pytest.approx(2020.0)
    assert f["opp_irating_min"] == 1060
    assert f["opp_irating_max"] == 2900
    assert f["irating_minus_opp_mean"] == pytest.approx(-480.0)
    ratings = [1540, 2100, 1060, 2900]
    sof = 1600 / math.log(2) * math.log(4 / sum(math.exp(-r * math.log(2) / 1600)
                                                for r in ratings))
    assert f["field_irating_sof"] == pytest.approx(sof)
    assert f["field_size"] == 4
    assert f["class_field_size"] == 4
    assert f["team_event"] is False
    # API starting_position 2 (0-based).
    assert f["starting_position_1"] == 3
    assert f["oldi_rating"] == 1540
    assert f["track_id"] == T100
    assert f["series_id"] == 210
    assert f["car_id"] == 41
    assert f["air_temp_c"] == pytest.approx(20.0)
    assert f["wind_speed_kmh"] == pytest.approx(5.0)


def test_targets_driver_a_race_108(history_db):
    f = features(history_db, 108, A)
    assert f["target_finish_position_1"] == 2
    assert f["target_incidents"] == 3
    assert f["target_dnf"] is False
    assert f["target_irating_delta"] == 20
    assert features(history_db, 108, C)["target_dnf"] is True


def test_form_driver_c_race_108(history_db):
    f = features(history_db, 108, C)
    # C before: 101 (3rd, 8 incidents, DNF, 1000 -> 990), 103 (1st, 0, 990 -> 1060).
    assert f["form_races"] == 2
    assert f["form_finish_position_mean"] == pytest.approx(2.0)
    assert f["form_incidents_mean"] == pytest.approx(4.0)
    assert f["form_dnf_rate"] == pytest.approx(0.5)
    assert f["form_win_rate"] == pytest.approx(0.5)
    assert f["form_irating_delta_mean"] == pytest.approx(30.0)
    assert f["form_irating_slope_per_race"] == pytest.approx(70.0)


def test_first_race_has_no_history(history_db):
    f = features(history_db, 101, A)
    assert f["prior_races"] == 0
    assert f["form_races"] == 0
    assert f["form_finish_position_mean"] is None
    assert f["days_since_last_race"] is None
    assert f["track_prior_races"] == 0
    assert f["track_incidents_per_driver"] is None
    assert f["tel_prior_sessions"] == 0


def test_start_time_tie_broken_by_id(history_db):
    # Races 103 and 104 start at the same time; 103 has the lower id, so it comes first.
    d103 = features(history_db, 103, D)
    d104 = features(history_db, 104, D)
    assert d103["prior_races"] == 1
    assert d104["prior_races"] == 2
    # D before 104: 102 (2nd), 103 (3rd, DNF).
    assert d104["form_finish_position_mean"] == pytest.approx(2.5)
    assert d104["form_dnf_rate"] == pytest.approx(0.5)
    assert d104["days_since_last_race"] == pytest.approx(0.0)


def test_track_rates_race_104(history_db):
    f = features(history_db, 104, B)
    # Track 200 before 104: race 102 only (103 is at track 100): incidents 1+3+0, 3 drivers,
    # 36 laps, no DNF.
    assert f["track_prior_races"] == 1
    assert f["track_incidents_per_driver"] == pytest.approx(4 / 3)
    assert f["track_incidents_per_100_laps"] == pytest.approx(400 / 36)
    assert f["track_dnf_rate"] == pytest.approx(0.0)


def test_row_count_is_race_entries(history_db):
    # 3 + 3 + 3 + 3 + 2 + 2 + 2 + 4 race entries; practice rows give none.
    assert history_db.run("SELECT count(*) FROM ml_training_data")[0][0] == 22


def _feature_part(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in TARGET_COLUMNS}


def _rows(db) -> dict:
    cols = [r[0] for r in db.run(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_name = 'ml_training_data' ORDER BY ordinal_position")]
    return {(r[0], r[1]): dict(zip(cols, r)) for r in db.run("SELECT * FROM ml_training_data")}


def test_own_outcome_changes_no_feature(history_db):
    before = _rows(history_db)
    changed = copy.deepcopy(HISTORY[103])
    # A new outcome for race 103: D wins without incidents, A crashes out, C finishes last.
    changed["session_results"][1]["results"] = [
        entry(D, 0, 0, 0, 3010, 3100, 10),
        entry(C, 1, 2, 12, 990, 900, 10),
        entry(A, 2, 1, 20, 1530, 1400, 3, DISCONNECTED, sr=(270, 200)),
    ]
    store_results(history_db, changed, "race-103-changed.json")
    rebuild_features(history_db)
    after = _rows(history_db)
    assert after.keys() == before.keys()
    for key in before:
        if key[0] < 103 or key[0] == 103:
            assert _feature_part(after[key]) == _feature_part(before[key]), key
    assert after[(103, A)]["target_finish_position_1"] == 3
    assert before[(103, A)]["target_finish_position_1"] == 2
    assert after[(103, A)]["target_dnf"] is True
    # Later races see the new outcome: A's form at 105 counts the DNF.
    assert after[(105, A)]["form_dnf_rate"] > before[(105, A)]["form_dnf_rate"]
    assert after[(104, D)]["form_finish_position_mean"] != \
        before[(104, D)]["form_finish_position_mean"]
    assert after[(107, A)]["track_incidents_per_driver"] != \
        before[(107, A)]["track_incidents_per_driver"]


def test_rebuild_twice_identical(history_db):
    first = history_db.run("SELECT xmin::text, t::text FROM ml_training_data t ORDER BY 2")
    counts = rebuild_features(history_db)
    second = history_db.run("SELECT xmin::text, t::text FROM ml_training_data t ORDER BY 2")
    assert counts["rows_written"] == 0
    assert counts["rows_deleted"] == 0
    assert counts["rows_computed"] == 22
    assert second == first


def test_incremental_equals_full(db):
    store(db, 101, 102, 105, 107)
    rebuild_features(db)
    # Races earlier than stored ones (103, 104), between them (106) and after (108), a changed
    # race (102: A's incidents) and a driver removed from race 107 (B).
    store(db, 103, 104, 106, 108)
    changed_102 = copy.deepcopy(HISTORY[102])
    changed_102["content"]["session_results"][1]["results"][2]["incidents"] = 9
    store_results(db, changed_102, "race-102-changed.json")
    changed_107 = copy.deepcopy(HISTORY[107])
    changed_107["session_results"][1]["results"] = changed_107["session_results"][1]["results"][1:]
    store_results(db, changed_107, "race-107-changed.json")

    counts = rebuild_features(db, full=False)
    incremental = table(db)
    full = rebuild_features(db, full=True)
    assert counts["mode"] == "incremental"
    assert counts["rows_deleted"] == 1
    assert full["rows_written"] == 0
    assert full["rows_deleted"] == 0
    assert table(db) == incremental
    assert db.run("SELECT count(*) FROM ml_pending_changes")[0][0] == 0


def test_incremental_reaches_track_rows(db):
    store(db, 101, 107, 108)
    rebuild_features(db)
    # An earlier race at track 100 by drivers who race nowhere else: only the track's incident
    # rate links it to the later races 107 and 108.
    store_results(db, race_payload(150, "2024-01-02T10:00:00Z", T100, [
        entry(8, 0, 0, 10, 1500, 1500, 10), entry(9, 1, 1, 20, 1500, 1500, 10)]), "race-150.json")
    counts = rebuild_features(db, full=False)
    incremental = table(db)
    full = rebuild_features(db)
    # Race 150's 2 rows, 107's 2 and 108's 4.
    assert counts["rows_computed"] == 8
    assert full["rows_written"] == 0
    assert table(db) == incremental
    assert features(db, 108, A)["track_prior_races"] == 3


def test_incremental_touches_only_reached_rows(db):
    store(db, 101, 102, 103, 104, 105, 106, 107)
    rebuild_features(db)
    store(db, 108)
    counts = rebuild_features(db, full=False)
    # Race 108 is the latest: only its own 4 rows are reached.
    assert counts["rows_computed"] == 4
    assert counts["rows_written"] == 4


def test_incremental_since(history_db):
    counts = rebuild_features(history_db, full=False,
                              since=datetime(2024, 1, 5, tzinfo=UTC))
    # Races 106, 107 (2 rows each) and 108 (4 rows) start on or after 2024-01-05.
    assert counts["rows_computed"] == 8
    assert counts["rows_written"] == 0


def test_first_incremental_runs_full(db):
    store(db, 101, 102)
    counts = rebuild_features(db, full=False)
    assert counts["mode"] == "full"
    assert counts["rows_total"] == 6


def test_race_without_start_time_skipped(db):
    payload = copy.deepcopy(HISTORY[101])
    del payload["start_time"]
    store_results(db, payload, "no-start.json")
    counts = rebuild_features(db)
    assert counts["rows_total"] == 0


def test_team_event_opponents(db):
    def driver(cust_id, oldi):
        return {"cust_id": cust_id, "oldi_rating": oldi, "newi_rating": oldi, "incidents": 0}

    payload = {
        "subsession_id": 500, "start_time": "2024-02-01T12:00:00Z",
        "track": {"track_id": T100},
        "session_results": [{"simsession_number": 0, "simsession_type": 6, "results": [
            {"team_id": -1, "finish_position": 0, "starting_position": 0, "car_class_id": 9,
             "driver_results": [driver(11, 2100), driver(12, 1900)]},
            {"team_id": -2, "finish_position": 1, "starting_position": 1, "car_class_id": 9,
             "driver_results": [driver(13, 3000)]},
            {"team_id": -3, "finish_position": 2, "starting_position": 2, "car_class_id": 9,
             "driver_results": [driver(14, 1500), driver(15, 2500)]},
        ]}],
    }
    store_results(db, payload, "team.json")
    rebuild_features(db)
    f = features(db, 500, 11)
    # Opponents of driver 11 are the other teams' drivers 13, 14 and 15, not teammate 12.
    assert f["opp_irating_mean"] == pytest.approx((3000 + 1500 + 2500) / 3)
    assert f["opp_irating_min"] == 1500
    assert f["opp_irating_max"] == 3000
    assert f["field_size"] == 3
    assert f["class_field_size"] == 3
    assert f["team_event"] is True
    assert f["target_finish_position_1"] == 1


def add_telemetry(db, subsession_id: int, cust_id: int, laps: list[tuple[float, bool]],
                  tag: str = "") -> int:
    """Insert a telemetry session linked to a race and driver, with its laps (time, valid)."""
    session_id = hashlib.sha256(f"{subsession_id}/{cust_id}/{tag}".encode()).hexdigest()
    metadata = {"extra": {"subsession_id": subsession_id, "cust_id": cust_id}}
    key = db.run("INSERT INTO sessions (session_id, status, metadata) "
                 "VALUES (:i, 'ready', CAST(:m AS jsonb)) RETURNING session_key",
                 i=session_id, m=json.dumps(metadata))[0][0]
    start = 0.0
    for number, (lap_time, valid) in enumerate(laps):
        db.run("INSERT INTO laps (session_key, lap_number, start_s, end_s, lap_time_s, kind, "
               "valid, source) VALUES (:k, :n, :s, :e, :t, 'flying', :v, 'test')",
               k=key, n=number, s=start, e=start + lap_time, t=lap_time, v=valid)
        start += lap_time
    return key


@pytest.fixture()
def telemetry_db(db):
    store(db, *HISTORY)
    # A's telemetry of race 101: valid laps 100, 101, 102 s and an invalid 130 s out-lap.
    add_telemetry(db, 101, A, [(130.0, False), (100.0, True), (101.0, True), (102.0, True)])
    # A's telemetry of race 103: valid laps 99 and 101 s.
    add_telemetry(db, 103, A, [(99.0, True), (101.0, True)])
    rebuild_features(db)
    return db


def test_telemetry_earlier_sessions_only(telemetry_db):
    f = features(telemetry_db, 103, A)
    # Only the session of race 101; race 103's own telemetry is left out.
    assert f["tel_prior_sessions"] == 1
    assert f["tel_track_best_lap_s"] == pytest.approx(100.0)
    # Laps 100, 101, 102: sample standard deviation 1.
    assert f["tel_track_lap_std_s"] == pytest.approx(1.0)
    assert f["tel_lap_cv_mean"] == pytest.approx(1.0 / 101.0)
    assert features(telemetry_db, 101, A)["tel_prior_sessions"] == 0


def test_telemetry_pooled_race_108(telemetry_db):
    f = features(telemetry_db, 108, A)
    assert f["tel_prior_sessions"] == 2
    assert f["tel_track_best_lap_s"] == pytest.approx(99.0)
    # Laps 100, 101, 102, 99, 101: mean 100.6, squared deviations 0.36 + 0.16 + 1.96 + 2.56
    # + 0.16 = 5.2, variance 5.2 / 4 = 1.3.
    assert f["tel_track_lap_std_s"] == pytest.approx(math.sqrt(1.3))
    # Per session: 1 / 101 and sqrt(2) / 100.
    assert f["tel_lap_cv_mean"] == pytest.approx((1.0 / 101.0 + math.sqrt(2) / 100.0) / 2)


def test_telemetry_other_track(telemetry_db):
    f = features(telemetry_db, 102, A)
    # Race 102 is at track 200; the earlier telemetry (race 101) is at track 100.
    assert f["tel_prior_sessions"] == 1
    assert f["tel_track_best_lap_s"] is None
    assert f["tel_track_lap_std_s"] is None
    assert f["tel_lap_cv_mean"] == pytest.approx(1.0 / 101.0)


def test_telemetry_incremental_equals_full(telemetry_db):
    # A session linked to race 105 arrives after the last build.
    add_telemetry(telemetry_db, 105, A, [(120.0, True), (122.0, True)])
    counts = rebuild_features(telemetry_db, full=False)
    incremental = table(telemetry_db)
    full = rebuild_features(telemetry_db)
    assert counts["rows_written"] > 0
    assert full["rows_written"] == 0
    assert table(telemetry_db) == incremental
    assert features(telemetry_db, 106, A)["tel_prior_sessions"] == 3


def test_telemetry_deleted_session(telemetry_db):
    key = telemetry_db.run("SELECT session_key FROM sessions "
                           "WHERE metadata -> 'extra' ->> 'subsession_id' = '103'")[0][0]
    telemetry_db.run("DELETE FROM sessions WHERE session_key = :k", k=key)
    rebuild_features(telemetry_db, full=False)
    assert features(telemetry_db, 108, A)["tel_prior_sessions"] == 1


def test_corpus_race_features(db):
    store_results(db, corpus_file("iracing_api_json/aydsko_subsession_result.json").read_bytes(),
                  "result.json")
    rebuild_features(db)
    f = features(db, 45243121, 147811)
    # cust_id 147811 in the corpus race: 0-based finish 1 and grid 2, 2 incidents, iRating
    # 2726 -> 2785; 19 drivers in two classes, 11 in class 45.
    assert f["target_finish_position_1"] == 2
    assert f["starting_position_1"] == 3
    assert f["target_incidents"] == 2
    assert f["target_irating_delta"] == 59
    assert f["field_size"] == 19
    assert f["class_field_size"] == 11
    # The other 18 drivers' oldi_rating sum to 32271 (34997 for all 19, minus 2726); the
    # lowest is 241, the highest 4228.
    assert f["opp_irating_mean"] == pytest.approx(32271 / 18)
    assert f["opp_irating_min"] == 241
    assert f["opp_irating_max"] == 4228
    assert f["prior_races"] == 0
    assert f["air_temp_c"] == pytest.approx((78 - 32) * 5 / 9)


def test_corpus_strength_of_field(db):
    path = corpus_file("iracing_api_json/aydsko_subsession_result.json")
    store_results(db, path.read_bytes(), "result.json")
    rebuild_features(db)
    content = json.loads(path.read_bytes().decode("utf-8-sig"))["content"]
    ratings = [r["oldi_rating"] for r in content["session_results"][1]["results"]]
    expected = 1600 / math.log(2) * math.log(
        len(ratings) / sum(math.exp(-r * math.log(2) / 1600) for r in ratings))
    sof = features(db, 45243121, 147811)["field_irating_sof"]
    assert sof == pytest.approx(expected)
    # The API's own event_strength_of_field is 1683.
    assert abs(sof - 1683) < 5


def test_rebuild_options_parses_body():
    assert rebuild_options(None) == {"full": True, "since": None}
    assert rebuild_options({"mode": "incremental", "since": "2024-01-05T00:00:00Z"}) == {
        "full": False, "since": datetime(2024, 1, 5, tzinfo=UTC)}


@pytest.mark.parametrize("body", [
    {"mode": "partial"},
    {"mode": "full", "since": "2024-01-01"},
    {"mode": "incremental", "since": "last week"},
    {"full": True},
])
def test_rebuild_options_rejects(body):
    with pytest.raises(ValueError):
        rebuild_options(body)


def test_rebuild_full_with_since_rejected(db):
    with pytest.raises(ValueError):
        rebuild_features(db, full=True, since=datetime(2024, 1, 1, tzinfo=UTC))


def test_rebuild_busy_without_wait(db, pg_url):
    other = connect(pg_url)
    try:
        # The build lock held by another connection, as during a running build.
        other.run("SELECT pg_advisory_lock(:k)", k=BUILD_LOCK_KEY)
        with pytest.raises(BuildInProgress):
            rebuild_features(db, wait=False)
        other.run("SELECT pg_advisory_unlock(:k)", k=BUILD_LOCK_KEY)
        assert rebuild_features(db, wait=False)["mode"] == "full"
    finally:
        other.close()
