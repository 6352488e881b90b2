"""Process helpers for the local stack: free ports, waiting for a port, stopping by pid."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

from ..errors import SimtelError

HOST = "127.0.0.1"

# Child processes started by this process, by pid, so that they are reaped when stopped.
_children: dict[int, subprocess.Popen] = {}


def track(proc: subprocess.Popen) -> int:
    """Remember a child started in the background; return its pid."""
    _children[proc.pid] = proc
    return proc.pid


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout_s: float, what: str, pid: int | None = None) -> None:
    """Wait until something accepts TCP connections on ``port``; raise after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pid is not None and not pid_alive(pid):
            raise SimtelError(f"{what} exited before it listened on {HOST}:{port}")
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise SimtelError(f"{what} did not listen on {HOST}:{port} within {timeout_s:.0f} s")


def pid_alive(pid: int) -> bool:
    """Return True when process ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
        return state != b"Z"
    except OSError:
        return True


def stop_pid(pid: int, timeout_s: float = 10.0, group: bool = True,
             sig: int = signal.SIGTERM) -> None:
    """Stop process ``pid`` (and its process group when ``group``): ``sig``, then SIGKILL."""
    if not pid_alive(pid):
        return
    sender = os.killpg if group else os.kill
    try:
        sender(pid, sig)
    except ProcessLookupError:
        return
    except PermissionError:
        os.kill(pid, sig)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            _reap(pid)
            return
        time.sleep(0.05)
    try:
        sender(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _reap(pid)


def _reap(pid: int) -> None:
    proc = _children.pop(pid, None)
    if proc is not None:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        return
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
