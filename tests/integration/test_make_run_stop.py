"""`make run` stops cleanly when the stop signal comes twice, as from a service manager (and make,
which forwards SIGTERM to its child) or from an impatient Ctrl-C: the real `python -m iamconsole.run`,
with its embedded IAM backend, Celery worker and web server, in a process group of its own."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from django.conf import settings

pytestmark = pytest.mark.integration

READY = "IAM Console is running on"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def private_redis_url() -> str:
    """The tests' Redis, its last database (15, or 14 when the tests use 15): the console's
    worker never takes the tests' tasks, nor theirs its own."""
    url = urlsplit(settings.TEST_REDIS_URL)
    return urlunsplit(url._replace(path="/14" if url.path == "/15" else "/15"))


def stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, session id) of a process, or None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return fields[0], int(fields[1]), int(fields[3])


def processes() -> dict[int, tuple[str, int, int]]:
    found = {int(name): stat(int(name)) for name in os.listdir("/proc") if name.isdigit()}
    return {pid: info for pid, info in found.items() if info is not None}


def family(root: int) -> set[int]:
    """The sessions of `root` and of every process descending from it (each child of run.py has one)."""
    table = processes()
    pids, sessions = {root}, {root}
    while True:
        more = {pid for pid, (_, ppid, _) in table.items() if ppid in pids} - pids
        if not more:
            return sessions | {table[pid][2] for pid in pids if pid in table}
        pids |= more


def alive_in(sessions: set[int]) -> set[int]:
    return {pid for pid, (state, _, sid) in processes().items() if sid in sessions and state != "Z"}


@pytest.mark.parametrize("delay", [0.01, 0.3], ids=["10ms", "300ms"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_it_stops_everything_when_the_stop_signal_comes_twice(
    tmp_path: Path, signum: signal.Signals, delay: float
) -> None:
    """The second signal lands while run.py is stopping its children (300 ms: during their
    shutdown; 10 ms: sometimes while it is still signalling them)."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}}
    env |= {
        "IAMCONSOLE_STATE_DIR": str(tmp_path),
        "IAM_BACKEND": "embedded",
        "EMBEDDED_IAM_PORT": str(free_port()),
        "PORT": str(port),
        "REDIS_URL": private_redis_url(),
        "CELERY_WORKER_CONCURRENCY": "2",
        "PYTHONUNBUFFERED": "1",
    }
    console = subprocess.Popen(
        [sys.executable, "-m", "iamconsole.run"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert console.stdout is not None
        for line in console.stdout:
            output.append(line)
            if READY in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    sessions = {console.pid}
    try:
        assert ready.wait(180), "".join(output[-40:])
        sessions = family(console.pid)
        assert len(sessions) >= 4  # run.py, the embedded backend, the worker and the web server
        os.killpg(console.pid, signum)
        time.sleep(delay)
        os.killpg(console.pid, signum)
        returncode = console.wait(60)
        left = alive_in(sessions)
        deadline = time.monotonic() + 3  # a SIGKILLed process takes a moment to go
        while left and time.monotonic() < deadline:
            time.sleep(0.1)
            left = alive_in(sessions)
        text = "".join(output)
        assert "Traceback" not in text and returncode == 0, text[-3000:]
        assert not left, f"left running: {sorted(left)}"
    finally:
        for pid in alive_in(sessions):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if console.poll() is None:
            console.kill()
            console.wait(10)
        redis.Redis.from_url(env["REDIS_URL"]).flushdb()  # the worker's queued sweeps and the probe's keys
