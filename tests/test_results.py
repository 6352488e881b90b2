"""iRacing Data API results and lap data: parsing, storage, idempotency, the ingest command."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from conftest import corpus_file

from common.errors import ParseError
from common.results import parse_laps, parse_results, store_laps, store_results

RESULT_FILE = "iracing_api_json/aydsko_subsession_result.json"
LAPS_FILE = "iracing_api_json/aydsko_single_driver_subsession_laps.json"
# The lap data file does not name its subsession; this is the subsession that the API's lap
# data header of the same recording names.
LAPS_SUBSESSION = 43625377

# Values read by hand from the corpus result, race simsession, cust_id 147811 (Jailson Silva):
# finish_position 1 (0-based, so 2nd), starting_position 2, incidents 2, laps_complete 4,
# oldi_rating 2726, newi_rating 2785, old_sub_level 334, new_sub_level 350, license level 15,
# best_lap_time 4115082, average_lap 4101914, interval 93548 (1/10,000 s).
SILVA = 147811
# cust_id 155764 (Nicholas Calhoon): race reason_out "Disconnected" (32) after 2 laps, no best
# lap (-1), average_lap 0.
CALHOON = 155764


def _corpus_bytes(relative: str) -> bytes:
    return corpus_file(relative).read_bytes()


def _race(result):
    return next(s for s in result.simsessions if s.is_race)


def _driver(simsession, cust_id):
    return next(d for d in simsession.results if d.cust_id == cust_id)


def test_parse_results_corpus_race_values():
    result = parse_results(_corpus_bytes(RESULT_FILE), "result.json")
    silva = _driver(_race(result), SILVA)
    assert result.subsession_id == 45243121
    assert result.start_time == datetime(2022, 4, 4, 1, 30, tzinfo=UTC)
    assert silva.finish_position == 1
    assert silva.starting_position == 2
    assert silva.incidents == 2
    assert silva.laps_complete == 4
    assert silva.oldi_rating == 2726
    assert silva.newi_rating == 2785
    assert silva.old_safety_rating == Decimal("3.34")
    assert silva.new_safety_rating == Decimal("3.50")
    assert silva.best_lap_time_s == 411.5082
    assert silva.average_lap_time_s == 410.1914
    assert silva.interval_s == 9.3548


def test_parse_results_corpus_simsessions():
    result = parse_results(_corpus_bytes(RESULT_FILE), "result.json")
    numbers = [(s.number, s.type, s.name) for s in result.simsessions]
    assert numbers == [(-1, 3, "PRACTICE"), (0, 6, "RACE")]
    assert result.race().number == 0
    assert len(result.simsessions[1].results) == 19


def test_parse_results_sentinels_become_none():
    result = parse_results(_corpus_bytes(RESULT_FILE), "result.json")
    practice = _driver(result.simsessions[0], SILVA)
    calhoon = _driver(_race(result), CALHOON)
    # Practice has no grid (-1) and no timed lap (-1); simsession number -1 is an id, kept.
    assert result.simsessions[0].number == -1
    assert practice.starting_position is None
    assert practice.best_lap_time_s is None
    assert calhoon.best_lap_time_s is None
    assert calhoon.average_lap_time_s is None
    assert calhoon.interval_s is None
    assert calhoon.reason_out == "Disconnected"
    assert calhoon.reason_out_id == 32


def test_parse_results_corpus_metadata():
    result = parse_results(_corpus_bytes(RESULT_FILE), "result.json")
    assert result.track.track_id == 249
    assert result.track.track_name == "Nürburgring Nordschleife"
    assert result.track.config_name == "Industriefahrten"
    assert result.season.series_id == 210
    assert result.season.season_id == 3620
    # 78 F with temp_units 0.
    assert result.weather.air_temp_c == pytest.approx(25.5556, abs=1e-4)
    assert result.weather.rel_humidity_pct == 55.0


def test_parse_results_raw_and_wrapped_equal():
    wrapped = _corpus_bytes(RESULT_FILE)
    assert wrapped.startswith(b"\xef\xbb\xbf")
    content = json.loads(wrapped.decode("utf-8-sig"))["content"]
    raw_with_bom = b"\xef\xbb\xbf" + json.dumps(content).encode()
    raw_text = json.dumps(content)
    from_wrapped = parse_results(wrapped, "a.json")
    assert parse_results(raw_with_bom, "b.json") == from_wrapped
    assert parse_results(raw_text, "c.json") == from_wrapped
    assert parse_results(content, "d.json") == from_wrapped


def test_store_results_corpus_values(db):
    counts = store_results(db, _corpus_bytes(RESULT_FILE), "result.json")
    assert counts["results"] == 38
    row = db.run(
        "SELECT finish_position, finish_position_1, starting_position, starting_position_1, "
        "incidents, oldi_rating, newi_rating, old_safety_rating, new_safety_rating, "
        "best_lap_time_s, average_lap_time_s, laps_complete, reason_out_id "
        "FROM ir_results WHERE subsession_id = 45243121 AND simsession_number = 0 "
        "AND cust_id = :c", c=SILVA,
    )[0]
    assert row[0] == 1
    assert row[1] == 2
    assert row[2] == 2
    assert row[3] == 3
    assert row[4] == 2
    assert row[5] == 2726
    assert row[6] == 2785
    assert row[7] == Decimal("3.34")
    assert row[8] == Decimal("3.50")
    assert row[9] == 411.5082
    assert row[10] == 410.1914
    assert row[11] == 4
    assert row[12] == 0


def test_store_results_corpus_nulls(db):
    store_results(db, _corpus_bytes(RESULT_FILE), "result.json")
    practice = db.run(
        "SELECT starting_position, starting_position_1, best_lap_time_s FROM ir_results "
        "WHERE subsession_id = 45243121 AND simsession_number = -1 AND cust_id = :c", c=SILVA,
    )[0]
    assert practice == [None, None, None]
    dnf = db.run(
        "SELECT reason_out, best_lap_time_s, average_lap_time_s FROM ir_results "
        "WHERE subsession_id = 45243121 AND simsession_number = 0 AND cust_id = :c", c=CALHOON,
    )[0]
    assert dnf == ["Disconnected", None, None]


def test_store_results_corpus_dimensions(db):
    store_results(db, _corpus_bytes(RESULT_FILE), "result.json")
    sub = db.run("SELECT s.track_id, t.track_name, se.series_id, sr.series_name, s.start_time, "
                 "s.event_strength_of_field, s.source_name "
                 "FROM ir_subsessions s JOIN ir_tracks t USING (track_id) "
                 "JOIN ir_seasons se USING (season_id) JOIN ir_series sr USING (series_id)")[0]
    assert sub[0] == 249
    assert sub[1] == "Nürburgring Nordschleife"
    assert sub[2] == 210
    assert sub[3] == "Global Fanatec Challenge"
    assert sub[4] == datetime(2022, 4, 4, 1, 30, tzinfo=UTC)
    assert sub[5] == 1683
    assert sub[6] == "result.json"
    assert db.run("SELECT display_name FROM ir_drivers WHERE cust_id = :c",
                  c=SILVA) == [["Jailson Silva"]]
    assert db.run("SELECT count(*) FROM ir_drivers")[0][0] == 19
    assert db.run("SELECT car_class_id, name FROM ir_car_classes ORDER BY 1") == [
        [45, "Cadillac CTS-VR"], [48, "Kia Optima"]]


def _dump(db, table: str) -> list:
    return db.run(f"SELECT xmin::text, t.*::text FROM {table} t ORDER BY 2")


def test_store_results_twice_changes_nothing(db):
    data = _corpus_bytes(RESULT_FILE)
    store_results(db, data, "result.json")
    tables = ["ir_subsessions", "ir_results", "ir_simsessions", "ir_drivers", "ir_cars",
              "ir_subsession_weather", "ml_pending_changes"]
    before = {t: _dump(db, t) for t in tables}
    counts = store_results(db, data, "result.json")
    assert counts["rows_changed"] == 0
    for table in tables:
        # xmin changes when a row is rewritten, even with the same values.
        assert _dump(db, table) == before[table], table


def test_store_results_removes_dropped_rows(db):
    content = json.loads(_corpus_bytes(RESULT_FILE).decode("utf-8-sig"))["content"]
    store_results(db, content, "result.json")
    content["session_results"][1]["results"] = [
        r for r in content["session_results"][1]["results"] if r["cust_id"] != CALHOON]
    content["session_results"] = content["session_results"][1:]
    counts = store_results(db, content, "result-fixed.json")
    assert counts["rows_changed"] > 0
    assert db.run("SELECT count(*) FROM ir_results")[0][0] == 18
    assert db.run("SELECT simsession_number FROM ir_simsessions") == [[0]]


def test_store_results_queues_changes(db):
    store_results(db, _corpus_bytes(RESULT_FILE), "result.json")
    rows = db.run("SELECT count(*), count(cust_id), min(start_time) FROM ml_pending_changes")[0]
    # 19 drivers plus one row for the race as a whole; nothing stored before, so one snapshot.
    assert rows[0] == 20
    assert rows[1] == 19
    assert rows[2] == datetime(2022, 4, 4, 1, 30, tzinfo=UTC)


def test_parse_laps_corpus_values():
    data = parse_laps(_corpus_bytes(LAPS_FILE), "laps.json", subsession_id=LAPS_SUBSESSION)
    laps = {lap.lap_number: lap for lap in data.laps}
    assert data.subsession_id == LAPS_SUBSESSION
    assert data.simsession_number == 0
    assert len(laps) == 16
    # Lap 0: lap_time -1, events invalid, pitted, tow.
    assert laps[0].lap_time_s is None
    assert laps[0].valid is False
    assert laps[0].lap_events == ("invalid", "pitted", "tow")
    # Lap 2: lap_time 1079278, session_time 6348271.
    assert laps[2].lap_time_s == 107.9278
    assert laps[2].session_time_s == 634.8271
    assert laps[2].valid is True
    # Lap 9: an off-track incident, still a timed lap.
    assert laps[9].incident is True
    assert laps[9].lap_events == ("off track",)
    assert laps[9].valid is True
    # Lap 12: the personal best, 1055325.
    assert laps[12].lap_time_s == 105.5325
    assert laps[12].personal_best_lap is True


def test_store_laps_corpus_twice(db):
    data = _corpus_bytes(LAPS_FILE)
    first = store_laps(db, data, "laps.json", subsession_id=LAPS_SUBSESSION)
    before = _dump(db, "ir_laps")
    second = store_laps(db, data, "laps.json", subsession_id=LAPS_SUBSESSION)
    assert first["rows_changed"] == 16
    assert second["rows_changed"] == 0
    assert _dump(db, "ir_laps") == before
    row = db.run("SELECT min(lap_time_s), count(*) FILTER (WHERE valid), "
                 "count(*) FILTER (WHERE lap_time_s IS NULL) FROM ir_laps")[0]
    assert row == [105.5325, 14, 2]


def test_parse_laps_needs_subsession():
    with pytest.raises(ParseError) as info:
        parse_laps(_corpus_bytes(LAPS_FILE), "laps.json")
    assert info.value.file == "laps.json"
    assert info.value.field == "session_info.subsession_id"


def test_parse_laps_header_from_payload():
    payload = {"session_info": {"subsession_id": 77, "simsession_number": -1},
               "laps": [{"cust_id": 5, "lap_number": 1, "lap_time": 905000}]}
    data = parse_laps(payload, "laps.json")
    assert data.subsession_id == 77
    assert data.simsession_number == -1
    assert data.laps[0].lap_time_s == 90.5


def test_parse_laps_header_without_laps():
    payload = {"success": True, "session_info": {"subsession_id": 77},
               "chunk_info": {"num_chunks": 1}}
    with pytest.raises(ParseError) as info:
        parse_laps(payload, "header.json")
    assert info.value.field == "laps"


def test_parse_laps_other_subsession():
    payload = {"session_info": {"subsession_id": 77}, "laps": []}
    with pytest.raises(ParseError) as info:
        parse_laps(payload, "laps.json", subsession_id=78)
    assert info.value.field == "session_info.subsession_id"


TEAM_PAYLOAD = {
    "subsession_id": 900,
    "start_time": "2024-03-01T12:00:00Z",
    "max_team_drivers": 2,
    "track": {"track_id": 7, "track_name": "Test Ring", "config_name": "Full"},
    "session_results": [{
        "simsession_number": 0, "simsession_type": 6, "simsession_name": "RACE",
        "results": [
            {"team_id": -41, "display_name": "Blue Team", "car_id": 3, "car_class_id": 9,
             "finish_position": 0, "starting_position": 1, "incidents": 5, "laps_complete": 20,
             "reason_out_id": 0, "reason_out": "Running",
             "driver_results": [
                 {"cust_id": 11, "display_name": "Ann", "incidents": 1, "laps_complete": 12,
                  "oldi_rating": 2100, "newi_rating": 2150},
                 {"cust_id": 12, "display_name": "Ben", "incidents": 4, "laps_complete": 8,
                  "oldi_rating": 1900, "newi_rating": 1950, "finish_position": 0},
             ]},
            {"team_id": -42, "display_name": "Red Team", "car_id": 3, "car_class_id": 9,
             "finish_position": 1, "starting_position": 0, "incidents": 0, "laps_complete": 19,
             "reason_out_id": 32, "reason_out": "Disconnected",
             "driver_results": [
                 {"cust_id": 13, "incidents": 0, "laps_complete": 19, "oldi_rating": 3000,
                  "newi_rating": 2950},
             ]},
        ],
    }],
}


def test_parse_results_team_event():
    result = parse_results(TEAM_PAYLOAD, "team.json")
    race = result.race()
    ann = _driver(race, 11)
    ben = _driver(race, 12)
    red = _driver(race, 13)
    assert [t.team_id for t in race.team_results] == [-41, -42]
    assert race.team_results[0].drivers == (11, 12)
    # Team fields the driver rows lack come from the team row.
    assert ann.team_id == -41
    assert ann.finish_position == 0
    assert ann.starting_position == 1
    assert ann.car_id == 3
    assert red.reason_out_id == 32
    # The driver's own incidents and ratings stay the driver's.
    assert ann.incidents == 1
    assert ben.incidents == 4
    assert ben.oldi_rating == 1900


def test_store_results_team_event(db):
    store_results(db, TEAM_PAYLOAD, "team.json")
    teams = db.run("SELECT team_id, display_name FROM ir_teams ORDER BY team_id")
    assert teams == [[-42, "Red Team"], [-41, "Blue Team"]]
    team_rows = db.run("SELECT team_id, finish_position_1, incidents FROM ir_team_results "
                       "ORDER BY finish_position")
    assert team_rows == [[-41, 1, 5], [-42, 2, 0]]
    drivers = db.run("SELECT cust_id, team_id, finish_position_1, incidents FROM ir_results "
                     "ORDER BY cust_id")
    assert drivers == [[11, -41, 1, 1], [12, -41, 1, 4], [13, -42, 2, 0]]


def test_parse_results_old_flat_shape():
    # No session_results: one flat list, rows without simsession fields, many fields absent.
    payload = {"subsession_id": 5, "results": [
        {"cust_id": 1, "finish_position": 0, "incidents": 2},
        {"cust_id": 2, "finish_position": 1},
    ]}
    result = parse_results(payload, "old.json")
    sims = result.simsessions
    assert len(sims) == 1
    assert sims[0].number == 0
    assert sims[0].type is None
    assert sims[0].results[1].incidents is None
    assert sims[0].results[1].oldi_rating is None
    assert result.start_time is None
    assert result.track is None
    assert "no start_time" in result.warnings[0]


def test_parse_results_numbers_missing_simsessions():
    payload = {"subsession_id": 5, "session_results": [
        {"simsession_type": 3, "results": []},
        {"simsession_type": 4, "results": []},
        {"simsession_type": 6, "results": [{"cust_id": 9}]},
    ]}
    result = parse_results(payload, "x.json")
    assert [s.number for s in result.simsessions] == [-2, -1, 0]


@pytest.mark.parametrize("payload, field", [
    ({"session_results": []}, "subsession_id"),
    ({"subsession_id": "45243121"}, "subsession_id"),
    ({"subsession_id": 1, "session_results": {}}, "session_results"),
    ({"subsession_id": 1, "session_results": [{"results": [{"cust_id": "x"}]}]},
     "session_results[0].results[0].cust_id"),
    ({"subsession_id": 1, "session_results": [{"results": [{"display_name": "x"}]}]},
     "session_results[0].results[0].cust_id"),
    ({"subsession_id": 1, "session_results": [{"results": [
        {"cust_id": 3, "finish_position": -4}]}]},
     "session_results[0].results[0].finish_position"),
    ({"subsession_id": 1, "start_time": "yesterday"}, "start_time"),
    ({"subsession_id": 1, "session_results": [{"results": [{"cust_id": 3}, {"cust_id": 3}]}]},
     "session_results[0].results[1].cust_id"),
    ({"link": "https://example.invalid/x", "expires": "2024-01-01T00:00:00Z"}, "link"),
])
def test_parse_results_invalid_field(payload, field):
    with pytest.raises(ParseError) as info:
        parse_results(payload, "bad.json")
    assert info.value.file == "bad.json"
    assert info.value.field == field


def test_parse_results_invalid_json():
    with pytest.raises(ParseError) as info:
        parse_results(b'\xef\xbb\xbf{"subsession_id": 1,\n "x": }', "broken.json")
    assert info.value.line == 2
    assert "invalid JSON" in str(info.value)


def test_cli_ingest_and_rebuild(pg_url, capsys):
    from common.cli import main

    result_path = str(corpus_file(RESULT_FILE))
    laps_path = str(corpus_file(LAPS_FILE))
    status = main(["results", "ingest", "--database-url", pg_url,
                   "--subsession-id", str(LAPS_SUBSESSION), result_path, laps_path])
    assert status == 0
    printed = capsys.readouterr().out
    assert '"laps": 16' in printed
    assert '"results": 38' in printed
    status = main(["features", "rebuild", "--incremental", "--database-url", pg_url])
    assert status == 0
    counts = json.loads(capsys.readouterr().out)
    assert counts["rows_total"] == 19


def test_cli_ingest_reports_bad_file(pg_url, tmp_path):
    from common.cli import main

    bad = tmp_path / "bad.json"
    bad.write_text('{"session_results": []}')
    status = main(["results", "ingest", "--database-url", pg_url, str(bad)])
    assert status == 1
