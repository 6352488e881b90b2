"""The function zips: deterministic builds, their contents, and (slow) each zip served by
functions-framework from a fresh virtual environment, with nothing from this checkout on its path."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest

from common.cli import main as simtel_main
from common.errors import SimtelError
from common.local.procs import HOST, free_port, wait_for_port
from common.packaging import FIXED_TIMESTAMP, FUNCTIONS, MANIFEST, build_packages

ROOT = Path(__file__).resolve().parent.parent


def _fake_root(tmp_path: Path) -> Path:
    """A minimal source tree with one file of each kind the packager must keep or leave out."""
    root = tmp_path / "src"
    for name in FUNCTIONS:
        (root / "functions" / name).mkdir(parents=True)
        (root / "functions" / name / "main.py").write_text(f"# {name}\n")
    (root / "requirements.txt").write_text("pg8000==1.31.6\n")
    (root / "common" / "db" / "migrations").mkdir(parents=True)
    (root / "common" / "__init__.py").write_text("")
    (root / "common" / "db" / "__init__.py").write_text("")
    (root / "common" / "db" / "migrations" / "0001_core.sql").write_text("SELECT 1;\n")
    (root / "common" / "__pycache__").mkdir()
    (root / "common" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    (root / "common" / "stray.pyc").write_bytes(b"\0")
    (root / "common" / ".DS_Store").write_bytes(b"\0")
    return root


def _names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def test_package_names_carry_hash(tmp_path):
    built = build_packages(tmp_path / "out", root=_fake_root(tmp_path))
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text())
    assert set(built) == {"parse", "load", "api"}
    for name, path in built.items():
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert path.name == f"{name}-{digest[:12]}.zip"
        assert manifest[name]["file"] == path.name
        assert manifest[name]["sha256"] == digest
        assert manifest[name]["entry_point"] == FUNCTIONS[name]


def test_package_build_deterministic(tmp_path):
    root = _fake_root(tmp_path)
    first = build_packages(tmp_path / "a", root=root)
    second = build_packages(tmp_path / "b", root=root)
    for name in FUNCTIONS:
        assert first[name].name == second[name].name
        assert first[name].read_bytes() == second[name].read_bytes()


def test_package_changes_with_source(tmp_path):
    root = _fake_root(tmp_path)
    before = build_packages(tmp_path / "a", root=root)
    (root / "functions" / "load" / "main.py").write_text("# load, changed\n")
    after = build_packages(tmp_path / "b", root=root)
    assert after["load"].name != before["load"].name
    assert after["parse"].name == before["parse"].name


def test_package_entries_exact(tmp_path):
    built = build_packages(tmp_path / "out", root=_fake_root(tmp_path))
    assert _names(built["parse"]) == [
        "common/__init__.py",
        "common/db/__init__.py",
        "common/db/migrations/0001_core.sql",
        "main.py",
        "requirements.txt",
    ]


def test_package_entries_fixed_metadata(tmp_path):
    built = build_packages(tmp_path / "out", root=_fake_root(tmp_path))
    with zipfile.ZipFile(built["api"]) as archive:
        for info in archive.infolist():
            assert info.date_time == FIXED_TIMESTAMP
            assert info.external_attr >> 16 == 0o100644
            assert info.compress_type == zipfile.ZIP_DEFLATED


def test_package_main_per_function(tmp_path):
    built = build_packages(tmp_path / "out", root=_fake_root(tmp_path))
    for name, path in built.items():
        with zipfile.ZipFile(path) as archive:
            assert archive.read("main.py") == f"# {name}\n".encode()
            assert archive.read("requirements.txt") == b"pg8000==1.31.6\n"


def test_package_removes_stale_zips(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "parse-000000000000.zip").write_bytes(b"old")
    (out / "notes.zip").write_bytes(b"unrelated")
    build_packages(out, root=_fake_root(tmp_path))
    assert not (out / "parse-000000000000.zip").exists()
    assert (out / "notes.zip").exists()
    assert len(list(out.glob("parse-*.zip"))) == 1


def test_package_missing_main_raises(tmp_path):
    root = _fake_root(tmp_path)
    (root / "functions" / "api" / "main.py").unlink()
    with pytest.raises(SimtelError, match=r"functions/api/main\.py not found"):
        build_packages(tmp_path / "out", root=root)


def test_package_real_tree_contents(tmp_path):
    if not all((ROOT / "functions" / name / "main.py").exists() for name in FUNCTIONS):
        pytest.skip("not every functions/<name>/main.py exists yet")
    built = build_packages(tmp_path / "out")
    names = _names(built["load"])
    assert "common/db/migrations/0001_core.sql" in names
    assert "common/load/handler.py" in names
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]


def test_cli_package_prints_paths(tmp_path, capsys):
    if not all((ROOT / "functions" / name / "main.py").exists() for name in FUNCTIONS):
        pytest.skip("not every functions/<name>/main.py exists yet")
    assert simtel_main(["package", "--out", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert len(lines) == 3
    for line, name in zip(lines, FUNCTIONS):
        label, path, digest = line.split("\t")
        assert label == name
        assert Path(path) == tmp_path / manifest[name]["file"]
        assert digest == f"sha256={manifest[name]['sha256']}"


# --- Serving each zip from a fresh virtual environment (slow) -----------------------------------

@pytest.fixture(scope="module")
def packages(tmp_path_factory) -> dict[str, Path]:
    if not all((ROOT / "functions" / name / "main.py").exists() for name in FUNCTIONS):
        pytest.skip("not every functions/<name>/main.py exists yet")
    return build_packages(tmp_path_factory.mktemp("zips"))


@pytest.fixture(scope="module")
def function_venv(packages, tmp_path_factory) -> Path:
    """One virtual environment for all three zips, installed from their requirements.txt.

    The three zips carry the same requirements.txt (checked here), so one environment serves all
    of them. Three environments would triple the slowest part of the test. pip may use its local
    cache.
    """
    contents = set()
    for path in packages.values():
        with zipfile.ZipFile(path) as archive:
            contents.add(archive.read("requirements.txt"))
    assert len(contents) == 1, "the zips carry different requirements.txt files"
    folder = tmp_path_factory.mktemp("venv")
    (folder / "requirements.txt").write_bytes(contents.pop())
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    result = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
         "-r", str(folder / "requirements.txt")],
        check=False, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, f"pip install failed:\n{result.stderr[-3000:]}"
    return venv


def _clean_env(**extra: str) -> dict[str, str]:
    """An environment with no path into this checkout: no PYTHONPATH, no VIRTUAL_ENV."""
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "TMPDIR") if key in os.environ}
    env.update(extra)
    return env


@contextlib.contextmanager
def _serve(zip_path: Path, target: str, venv: Path, folder: Path, **env: str):
    """Unzip into an empty folder and serve ``target`` with functions-framework on 127.0.0.1."""
    folder.mkdir()
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(folder)
    port = free_port()
    log_path = folder.parent / f"{folder.name}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(venv / "bin" / "functions-framework"), "--source", "main.py", "--target", target,
             "--host", HOST, "--port", str(port)],
            cwd=folder, env=_clean_env(**env), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        try:
            wait_for_port(port, 60, f"functions-framework serving {target}", pid=process.pid)
        except SimtelError as exc:
            raise AssertionError(f"{exc}\n{log_path.read_text()[-3000:]}") from exc
        yield f"http://{HOST}:{port}", log_path
    finally:
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    """Stop functions-framework and its workers (its own process group), then reap it."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)
    except ProcessLookupError:
        process.wait(timeout=15)


def _request(url: str, body: bytes | None = None, headers: dict[str, str] | None = None):
    request = urllib.request.Request(url, data=body, headers=headers or {},
                                     method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.mark.slow
def test_venv_lacks_checkout(function_venv, tmp_path):
    result = subprocess.run([str(function_venv / "bin" / "python"), "-c", "import common"],
                            cwd=tmp_path, env=_clean_env(), check=False, capture_output=True,
                            text=True)
    assert result.returncode != 0, "the fresh venv imports common without the zip"


@pytest.mark.slow
def test_api_zip_serves_health(packages, function_venv, pg_url, tmp_path):
    with _serve(packages["api"], "api", function_venv, tmp_path / "api",
                DATABASE_URL=pg_url) as (base, log):
        status, body = _request(f"{base}/health")
    assert status == 200, f"{body!r}\n{log.read_text()[-3000:]}"
    assert json.loads(body)["status"] == "ok"


@pytest.mark.slow
def test_parse_zip_acks_folder_event(packages, function_venv, pg_url, tmp_path):
    headers = {
        "Content-Type": "application/json",
        "ce-specversion": "1.0",
        "ce-type": "google.cloud.storage.object.v1.finalized",
        "ce-source": "//storage.googleapis.com/projects/_/buckets/raw",
        "ce-id": "1",
        "ce-subject": "objects/incoming/",
    }
    # An object name ending in "/" is a folder placeholder: parse acknowledges it untouched.
    body = json.dumps({"bucket": "raw", "name": "incoming/", "generation": "1"}).encode()
    with _serve(packages["parse"], "parse_event", function_venv, tmp_path / "parse",
                DATABASE_URL=pg_url) as (base, log):
        status, response = _request(base, body, headers)
    assert status == 200, f"{response!r}\n{log.read_text()[-3000:]}"


@pytest.mark.slow
def test_load_zip_fails_dead_lettered(packages, function_venv, pg_url, db, tmp_path):
    session_id = "ab" * 32
    db.run("INSERT INTO sessions (session_id, status) VALUES (:id, 'loading')", id=session_id)
    # The body and URL path Pub/Sub pushes for a message on the dead-letter topic, as the
    # Terraform push endpoints are built: functions-framework takes the topic from the path.
    envelope = {
        "message": {
            "data": base64.b64encode(b"chunk").decode(),
            "attributes": {"session_id": session_id, "seq": "3", "count": "9"},
            "messageId": "42",
            "publishTime": "2024-05-01T12:00:00Z",
        },
        "subscription": "projects/test-project/subscriptions/dead-letter",
    }
    with _serve(packages["load"], "load_chunk", function_venv, tmp_path / "load",
                DATABASE_URL=pg_url, DEAD_LETTER_TOPIC="chunks-dead-letter") as (base, log):
        status, response = _request(
            f"{base}/projects/test-project/topics/chunks-dead-letter",
            json.dumps(envelope).encode(), {"Content-Type": "application/json"},
        )
    assert status == 200, f"{response!r}\n{log.read_text()[-3000:]}"
    rows = db.run("SELECT status, reason FROM sessions WHERE session_id = :id", id=session_id)
    assert rows[0][0] == "failed"
    assert "chunk 3 of 9" in rows[0][1]
    assert "dead-letter topic" in rows[0][1]
