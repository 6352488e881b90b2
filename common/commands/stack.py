"""``simtel local up|down|status`` and ``simtel demo``: the local stack and the end-to-end run."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from ..errors import SimtelError
from ..formats import is_sidecar
from ..local import stack
from .ingest import expand

# Seconds ``simtel demo`` waits for every session to be ready or failed.
DEMO_TIMEOUT_S = 600


def register(sub) -> None:
    p = sub.add_parser("local", help="start or stop the local stack (emulators, PostgreSQL, functions)")
    lsub = p.add_subparsers(dest="local_command", required=True, metavar="COMMAND")
    lsub.add_parser("up", help="start the local stack and print where each part listens").set_defaults(
        func=run_up)
    lsub.add_parser("down", help="stop the processes the local stack started").set_defaults(func=run_down)
    lsub.add_parser("status", help="print whether the local stack runs").set_defaults(func=run_status)

    d = sub.add_parser("demo", help="upload logs through the local stack and print the sessions")
    d.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                   help="files or folders to upload; default: the project's generated samples")
    d.add_argument("--keep", action="store_true", help="leave the local stack running afterwards")
    d.add_argument("--timeout", type=float, default=DEMO_TIMEOUT_S,
                   help=f"seconds to wait for the sessions (default {DEMO_TIMEOUT_S})")
    d.set_defaults(func=run_demo)


def run_up(args: argparse.Namespace) -> int:
    state = stack.running()
    if state:
        print("local stack already running:")
    else:
        print("starting the local stack ...", flush=True)
        state = stack.up()
        print("local stack running:")
    for line in stack.describe(state):
        print("  " + line)
    for line in _api_hint(state):
        print(line)
    print(f"stop it with: {_prog()} local down")
    return 0


def _prog() -> str:
    """Return the command as the user typed it, for hints (for example .venv/bin/simtel)."""
    return sys.argv[0] if sys.argv and sys.argv[0].endswith("simtel") else "simtel"


def _api_hint(state: stack.StackState) -> list[str]:
    key = state.env.get("SIMTEL_API_KEY")
    if not key:
        return []
    return [
        f"API key of this local stack: {key}",
        f"  try: curl -H 'X-API-Key: {key}' {state.api_url}/v1/sessions",
        f"  docs: {state.api_url}/v1/docs",
    ]


def run_down(args: argparse.Namespace) -> int:
    if stack.down():
        print("local stack stopped")
    else:
        print("no local stack recorded; nothing to stop")
    return 0


def run_status(args: argparse.Namespace) -> int:
    state = stack.running()
    if not state:
        print("local stack not running")
        return 1
    for line in stack.describe(state):
        print(line)
    return 0


def run_demo(args: argparse.Namespace) -> int:
    # Check the paths before starting anything.
    files = expand(args.paths) if args.paths else []
    if args.paths and not files:
        raise SimtelError("no files to upload under " + ", ".join(map(str, args.paths)))
    state = stack.running()
    started_here = state is None
    if started_here:
        print("starting the local stack ...", flush=True)
        state = stack.up()
        print("local stack running:")
    else:
        print("using the local stack that is already running:")
    try:
        for line in stack.describe(state):
            print("  " + line)
        files = files or _samples(state)
        expected = _expected_sessions(files)
        before = {sid: api_get(state, f"/v1/sessions/{sid}") for sid in expected}
        _upload(state, files)
        print(f"uploaded {len(files)} file(s) to gs://{stack.BUCKET}/incoming/; waiting for "
              f"{len(expected)} session(s) ...", flush=True)
        results = _wait(state, expected, args.timeout)
        print()
        for session_id in expected:
            item = results.get(session_id)
            names = ", ".join(expected[session_id])
            print(f"{names}")
            if item is None:
                print(f"  timeout  no answer for session {session_id} within {args.timeout:.0f} s")
                continue
            from .report import session_line

            print("  " + session_line(item, state.api_url))
        ready = sum(1 for r in results.values() if r.get("status") == "ready")
        failed = sum(1 for r in results.values() if r.get("status") == "failed")
        known = [sid for sid, item in before.items() if item and item.get("status") == "ready"]
        added = sum((results.get(sid) or {}).get("samples_stored") or 0
                    for sid in expected if sid not in known)
        print(f"\n{ready} ready, {failed} failed, {len(expected) - ready - failed} unfinished; "
              f"{len(known)} already stored before this run; {added} samples added by this run")
        if args.keep:
            print(f"local stack left running; API at {state.api_url}")
            for line in _api_hint(state):
                print(line)
            print(f"stop it with: {_prog()} local down")
        return 0 if ready == len(expected) else 1
    finally:
        if started_here and not args.keep:
            stack.down()
            print("local stack stopped")


def _samples(state: stack.StackState) -> list[Path]:
    from ..samples import write_samples

    return write_samples(Path(state.directory) / "samples")


def _expected_sessions(files: list[Path]) -> dict[str, list[str]]:
    """Return the session id (SHA-256) each non-sidecar file will become, with the file names."""
    expected: dict[str, list[str]] = {}
    for path in sorted(files):
        if is_sidecar(path.name):
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        expected.setdefault(digest, []).append(path.name)
    return expected


def _upload(state: stack.StackState, files: list[Path]) -> None:
    """Upload files into the bucket under incoming/, each sidecar before the file it belongs to."""
    os.environ.update(state.env)
    from .. import gcp

    bucket = gcp.storage_client().bucket(stack.BUCKET)
    ordered = sorted(files, key=lambda p: (not is_sidecar(p.name), str(p)))
    for path in ordered:
        bucket.blob(f"incoming/{path.name}").upload_from_string(path.read_bytes())


def _wait(state: stack.StackState, expected: dict[str, list[str]], timeout_s: float) -> dict[str, dict]:
    deadline = time.monotonic() + timeout_s
    results: dict[str, dict] = {}
    pending = set(expected)
    while pending and time.monotonic() < deadline:
        for session_id in list(pending):
            item = api_get(state, f"/v1/sessions/{session_id}")
            if item is not None:
                results[session_id] = item
                if item.get("status") in ("ready", "failed"):
                    pending.discard(session_id)
        if pending:
            time.sleep(0.5)
    return results


def api_get(state: stack.StackState, path: str) -> dict | None:
    """GET a path from the local API; None for 404."""
    request = urllib.request.Request(state.api_url + path, headers=_auth(state))
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        body = exc.read().decode(errors="replace")[:300]
        raise SimtelError(f"GET {path} failed with HTTP {exc.code}: {body}") from exc


def _auth(state: stack.StackState) -> dict[str, str]:
    key = state.env.get("SIMTEL_API_KEY")
    return {"X-API-Key": key} if key else {}


if __name__ == "__main__":
    sys.exit(0)
