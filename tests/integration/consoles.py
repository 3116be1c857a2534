"""Helpers for the tests that run the console's own launchers (`python -m iamconsole.run`,
`python -m iamconsole.stack`) as a user would: in a process group of their own, their output
collected, and every process they started found through /proc, so that a test can tell what is
left running after a stop."""

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

from django.conf import settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def private_redis_url(rank: int) -> str:
    """A database of the tests' Redis for a launched console's broker and cache, the `rank`-th
    from the top (15, 14 …) that is not the tests' own: its worker never takes the tests' tasks,
    nor theirs its own, and two tests with different ranks never share one."""
    url = urlsplit(settings.TEST_REDIS_URL)
    free = [db for db in range(15, 0, -1) if f"/{db}" != url.path]
    return urlunsplit(url._replace(path=f"/{free[rank]}"))


def launcher_env(state_dir: Path, **variables: str) -> dict[str, str]:
    """The tests' environment without their database and settings module, plus `variables`."""
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}}
    return env | {"IAMCONSOLE_STATE_DIR": str(state_dir), "PYTHONUNBUFFERED": "1"} | variables


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


def alive(pid: int) -> bool:
    info = stat(pid)
    return info is not None and info[0] != "Z"


class Launched:
    """A launcher started as `python -m <module>`, its output collected line by line."""

    def __init__(self, module: str, env: dict[str, str], *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self.sessions = {self.process.pid}
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def count(self, text: str) -> int:
        return sum(text in line for line in list(self.lines))

    def wait_for(self, text: str, seconds: float, count: int = 1) -> bool:
        """True once `count` lines of the output contain `text`; False if the launcher ends first or
        after `seconds`."""
        deadline = time.monotonic() + seconds
        while self.count(text) < count:
            if self.process.poll() is not None or time.monotonic() > deadline:
                return self.count(text) >= count
            time.sleep(0.1)
        return True

    def note_family(self) -> set[int]:
        """Remember (and return) the sessions of everything the launcher runs now."""
        self.sessions |= family(self.process.pid)
        return self.sessions

    def child(self, marker: str) -> int:
        """The pid of the launcher's child whose command line contains `marker`."""
        for pid, (state, ppid, _) in processes().items():
            if ppid == self.process.pid and state != "Z":
                with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                    if marker in Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode():
                        return pid
        raise LookupError(f"no child of {self.process.pid} runs {marker!r}")

    def left_after_stop(self, timeout: float = 60) -> set[int]:
        """Wait for the launcher to end; what is still running in the sessions it ever had."""
        self.process.wait(timeout)
        left = alive_in(self.sessions)
        deadline = time.monotonic() + 3  # a SIGKILLed process takes a moment to go
        while left and time.monotonic() < deadline:
            time.sleep(0.1)
            left = alive_in(self.sessions)
        return left

    def kill_everything(self) -> None:
        """Clean-up after a test, whatever happened: SIGKILL all that is left."""
        self.note_family()
        for pid in alive_in(self.sessions):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
