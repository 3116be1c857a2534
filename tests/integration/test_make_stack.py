"""`make stack`: the production stack without Docker, started for real (`python -m iamconsole.stack`)
with the machine's PostgreSQL (a database of its own, next to the tests') and the stack's own
private Redis, then stopped by a doubled Ctrl-C."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from celery import Celery

from tests.integration.consoles import Launched, free_port, launcher_env
from tests.integration.services import required

pytestmark = pytest.mark.integration

READY = "IAM Console (production stack) is running on"


@pytest.fixture
def stack_database() -> Iterator[str]:
    """A database of its own on the tests' PostgreSQL server (DATABASE_URL), dropped afterwards."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        required("needs the tests' PostgreSQL (DATABASE_URL=postgresql://…)")
    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/') or 'test'}_stack"
    server = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(server, autocommit=True) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        db.execute(f'CREATE DATABASE "{name}"')
    yield urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(server, autocommit=True) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def health(url: str) -> tuple[int, dict[str, str]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.load(response)["checks"]
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)["checks"]


def test_it_runs_the_production_stack_and_stops_it_whole(tmp_path: Path, stack_database: str) -> None:
    if not shutil.which("redis-server"):
        required("needs redis-server (apt-get install redis-server)")
    port, redis_port = free_port(), free_port()
    env = launcher_env(tmp_path, DATABASE_URL=stack_database)
    env.pop("REDIS_URL")  # the stack starts its own
    state = tmp_path / "stack"
    stack = Launched(
        "iamconsole.stack", env,
        "--port", str(port), "--redis-port", str(redis_port), "--state-dir", str(state),
        "--workers", "2", "--concurrency", "1", "--web-workers", "2", "--threads", "2",
    )  # fmt: skip
    try:
        assert stack.wait_for(READY, 80), stack.output[-4000:]
        assert f"running on http://127.0.0.1:{port}" in stack.output
        assert "Health (" in stack.output and "every check ok" in stack.output, stack.output[-4000:]
        assert "user name: admin" in stack.output

        # Each web process checks for itself: on a busy machine a worker may miss one 1-second ping.
        deadline = time.monotonic() + 30
        while (answer := health(f"http://127.0.0.1:{port}/health/"))[0] != 200 and time.monotonic() < deadline:
            time.sleep(1)
        assert answer[0] == 200 and set(answer[1].values()) == {"ok"}, answer
        app = Celery(broker=f"redis://127.0.0.1:{redis_port}/0")
        try:
            replies = app.control.ping(timeout=2) or []
        finally:
            app.close()
        names = sorted(name.split("@")[0] for reply in replies for name in reply)
        assert names == ["worker1", "worker2"], replies
        assert (state / "redis" / "appendonlydir").is_dir()  # Redis keeps its queues, as in compose

        assert len(stack.note_family()) >= 6  # the stack, Redis, moto, 2 workers, the web server
        os.killpg(stack.process.pid, signal.SIGINT)
        time.sleep(0.3)
        os.killpg(stack.process.pid, signal.SIGINT)
        left = stack.left_after_stop()
        assert "Traceback" not in stack.output and stack.process.returncode == 0, stack.output[-3000:]
        assert not left, f"left running: {sorted(left)}"
    finally:
        stack.kill_everything()
