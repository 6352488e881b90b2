"""A .ldx sidecar that arrives after its .ld: the stored session's laps are read again with it."""

from __future__ import annotations

import pytest

from common.errors import TransientError
from common.load.loader import load_chunk
from common.parse import stage

from conftest import DATA
from formats.synthetic_logs import LdChannel, build_ld


def _log() -> bytes:
    # 150 s of ground speed at 10 Hz, so that the sidecar's beacons (12.5, 75.25, 139.0005 s) fall
    # inside the recording.
    speed = [800 + (i % 200) for i in range(1500)]
    return build_ld([LdChannel("Ground Speed", "km/h", 10, speed, dec=1)], venue="Late Ring")


def _process(db, data: bytes, name: str):
    def publish(chunks):
        for chunk in chunks:
            load_chunk(db, chunk.attributes, chunk.data)

    return stage.process(db, data, bucket="raw", name=name, generation=1, publish=publish)


def _laps(db, session_id: str):
    return db.run("SELECT lap_number, kind, valid, start_s, end_s, lap_time_s, source FROM laps "
                  "JOIN sessions USING (session_key) WHERE session_id = :id ORDER BY lap_number",
                  id=session_id)


def test_late_sidecar_replaces_laps(db):
    data = _log()
    outcome = _process(db, data, "incoming/run.ld")
    assert outcome.status == "ready"
    before = _laps(db, outcome.session_id)
    assert all(row[6] != "beacon" for row in before)

    ldx = (DATA / "motec_ld" / "three_laps.ldx").read_bytes()
    assert stage.refresh_sidecar(db, data, "incoming/run.ld", {"run.ldx": ldx}) == "refreshed"

    after = _laps(db, outcome.session_id)
    assert [row[1] for row in after] == ["out", "flying", "flying", "in"]
    assert {row[6] for row in after} == {"beacon"}
    assert after[1][3] == pytest.approx(12.5)
    assert after[1][5] == pytest.approx(62.75)
    assert after[2][5] == pytest.approx(63.751, abs=1e-3)
    extra = db.run("SELECT metadata->'extra'->>'ldx_fastest_time' FROM sessions WHERE session_id = :id",
                   id=outcome.session_id)[0][0]
    assert extra == "1:02.750"
    # The samples were not touched.
    assert db.run("SELECT count(*) FROM samples")[0][0] == 1500


def test_sidecar_before_log_waits_for_log(db):
    ldx = (DATA / "motec_ld" / "three_laps.ldx").read_bytes()
    assert stage.refresh_sidecar(db, _log(), "incoming/run.ld", {"run.ldx": ldx}) == "no session"


def test_sidecar_while_log_parses_retries(db):
    data = _log()
    db.run("INSERT INTO sessions (session_id, status) VALUES (:id, 'parsing')",
           id=stage.session_id_of(data))
    ldx = (DATA / "motec_ld" / "three_laps.ldx").read_bytes()
    with pytest.raises(TransientError, match="still being parsed"):
        stage.refresh_sidecar(db, data, "incoming/run.ld", {"run.ldx": ldx})
