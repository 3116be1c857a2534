"""`make run` stops cleanly when the stop signal comes twice, as from a service manager (and make,
which forwards SIGTERM to its child) or from an impatient Ctrl-C: the real `python -m iamconsole.run`,
with its embedded IAM backend, Celery worker and web server, in a process group of its own."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import redis

from tests.integration.consoles import Launched, free_port, launcher_env, private_redis_url

pytestmark = pytest.mark.integration

READY = "IAM Console is running on"


@pytest.mark.parametrize("delay", [0.01, 0.3], ids=["10ms", "300ms"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_it_stops_everything_when_the_stop_signal_comes_twice(
    tmp_path: Path, signum: signal.Signals, delay: float
) -> None:
    """The second signal lands while run.py is stopping its children (300 ms: during their
    shutdown; 10 ms: sometimes while it is still signalling them)."""
    env = launcher_env(
        tmp_path,
        IAM_BACKEND="embedded",
        EMBEDDED_IAM_PORT=str(free_port()),
        PORT=str(free_port()),
        REDIS_URL=private_redis_url(0),
        CELERY_WORKER_CONCURRENCY="2",
    )
    console = Launched("iamconsole.run", env)
    try:
        assert console.wait_for(READY, 180), console.output[-4000:]
        assert len(console.note_family()) >= 4  # run.py, the embedded backend, the worker and the web server
        os.killpg(console.process.pid, signum)
        time.sleep(delay)
        os.killpg(console.process.pid, signum)
        left = console.left_after_stop()
        assert "Traceback" not in console.output and console.process.returncode == 0, console.output[-3000:]
        assert not left, f"left running: {sorted(left)}"
    finally:
        console.kill_everything()
        redis.Redis.from_url(env["REDIS_URL"]).flushdb()  # the worker's queued sweeps and the probe's keys
