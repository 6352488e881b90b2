"""The simtel command line: inspect, ingest and db migrate, run in-process."""

from __future__ import annotations

import json
import shutil

import pytest

from common.cli import main
from common.db.connect import connect
from common.samples import write_samples

from conftest import DATA


def test_inspect_text(capsys):
    assert main(["inspect", str(DATA / "motec" / "golden-motec.csv")]) == 0
    out = capsys.readouterr().out
    assert "format      motec_csv" in out
    assert "track       Golden Test Track" in out
    assert "samples     5  duration 0:00.400" in out
    assert "Oil Pressure  [bar]  -> oil_pressure [kPa]" in out


def test_inspect_json(capsys):
    assert main(["inspect", "--json", str(DATA / "motec" / "golden-motec.csv")]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["format"] == "motec_csv"
    assert body["sample_count"] == 5
    assert body["duration_s"] == pytest.approx(0.4)
    assert body["metadata"]["driver"] == "Golden Driver"
    assert body["metadata"]["start_time"] == "2025-05-17T09:41:07"
    assert [c["name"] for c in body["channels"]] == ["Ground Speed", "Throttle Pos", "Gear", "Oil Pressure"]
    assert [c["unit"] for c in body["channels"]] == ["km/h", "fraction", "gear", "kPa"]
    assert body["quality"]["rows_read"] == 5


def test_inspect_unreadable_file(tmp_path, capsys):
    bad = tmp_path / "notes.csv"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert main(["inspect", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "notes.csv" in err
    assert "a PNG image" in err


def test_inspect_missing_file(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "absent.csv")]) == 1
    assert "absent.csv: no such file" in capsys.readouterr().err


def test_ingest_folder(pg_url, tmp_path, capsys):
    samples = write_samples(tmp_path / "samples")
    shutil.copy(DATA / "motec" / "golden-motec.csv", tmp_path / "samples" / "golden.csv")
    (tmp_path / "samples" / "broken.csv").write_bytes(b"")
    code = main(["ingest", str(tmp_path / "samples"), "--database-url", pg_url, "--quiet",
                 "--workers", "2"])
    out = capsys.readouterr().out
    assert code == 1, out
    assert f"files: {len(samples) + 2}, sessions ready: {len(samples) + 1}, already stored: 0, failed: 1" in out
    assert "broken.csv: empty file" in out

    db = connect(pg_url)
    rows = db.run("SELECT format, status, sample_count, samples_loaded FROM sessions "
                  "WHERE status = 'ready' ORDER BY format")
    assert [r[0] for r in rows] == ["generic_csv", "gpx", "motec_csv", "motec_csv"]
    assert all(r[2] == r[3] for r in rows)
    laps = db.run("SELECT count(*) FILTER (WHERE valid) FROM laps JOIN sessions USING (session_key) "
                  "WHERE format = 'motec_csv' AND sample_count > 5")[0][0]
    assert laps == 3

    # A second run over the same folder stores nothing new.
    samples_before = db.run("SELECT count(*) FROM samples")[0][0]
    assert main(["ingest", str(tmp_path / "samples"), "--database-url", pg_url, "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "sessions ready: 0, already stored: 4" in out
    assert db.run("SELECT count(*) FROM samples")[0][0] == samples_before
    db.close()


def test_db_migrate_idempotent(pg_url, capsys):
    assert main(["db", "migrate", "--database-url", pg_url]) == 0
    assert "schema is up to date" in capsys.readouterr().out
