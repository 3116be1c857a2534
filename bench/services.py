"""Child processes of bench/bulk_create.py, imported as a sibling module (the bench runs as a
script from its file): a `Service` that prints when it is ready, and the delaying IAM proxy
(tests/iam_proxy.py) run as one.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, cast

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return cast(int, sock.getsockname()[1])


class Service:
    """A child process that prints "... ready on <url> ..." on stdout once it serves; its stderr
    goes to `log`. Stopped with SIGTERM (then SIGKILL) on exit."""

    def __init__(self, command: Sequence[str], log: Path, timeout: float = 120) -> None:
        self.log = log
        self._log_file = log.open("a")
        self.process = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=self._log_file, text=True, start_new_session=True
        )
        self.url = self._wait_ready(timeout)
        # Keep reading, so that the child never blocks on a full pipe.
        threading.Thread(target=self._drain, args=(self.process.stdout,), daemon=True).start()

    def _wait_ready(self, timeout: float) -> str:
        assert self.process.stdout is not None
        found: list[str] = []

        def read() -> None:
            for line in self.process.stdout:  # type: ignore[union-attr]
                if " ready on " in line:
                    found.append(line.split(" ready on ", 1)[1].split()[0])
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(timeout)
        if not found:
            self.stop()
            raise SystemExit(f"{' '.join(self.process.args)} did not start; see {self.log}")  # type: ignore[arg-type]
        return found[0]

    @staticmethod
    def _drain(stream: IO[str]) -> None:
        for _ in stream:
            pass

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_file.close()
        return self.process.returncode


ProxyCounts = dict[str, Counter[str]]  # IAM calls by what the proxy did ("forwarded", …), by action


@contextlib.contextmanager
def iam_proxy(
    moto_url: str, port: int, latency: float, log: Path, rate: float | None = None, burst: float | None = None
) -> Iterator[Callable[[], ProxyCounts]]:
    """The delaying proxy on `port` for one run, in token-bucket mode if `rate` is given; yields a
    function that stops it and returns its counts (it prints them as it stops)."""
    command = [sys.executable, "-m", "tests.iam_proxy", "--upstream", moto_url, "--port", str(port)]
    command += ["--latency", str(latency)]
    if rate is not None:
        command += ["--rate", str(rate), "--burst", str(burst if burst is not None else rate)]
    service = Service(command, log)
    counts: ProxyCounts = {}

    def stop() -> ProxyCounts:
        if service.process.poll() is None:
            service.stop()
            lines = [line for line in log.read_text().splitlines() if line.startswith("IAM proxy counts: ")]
            if lines:
                totals = json.loads(lines[-1].partition(": ")[2])
                counts.update({kind: Counter(by_action) for kind, by_action in totals.items()})
        return counts

    try:
        yield stop
    finally:
        stop()
