"""`make run` supervises its components like a process manager: one that dies is restarted, with a
line in the output, while the others keep serving. The real `python -m iamconsole.run`, its
components killed one at a time as a crash (or the kernel's OOM killer) would."""

from __future__ import annotations

import os
import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import pytest
import redis
from celery import Celery

from tests.integration.consoles import Launched, alive, free_port, launcher_env, private_redis_url

pytestmark = pytest.mark.integration

READY = "IAM Console is running on"
BACKEND_READY = "Embedded IAM backend ready on"


@contextmanager
def watching_liveness(url: str) -> Iterator[list[str]]:
    """Ask `url` every 0.2 s in a thread; the failures seen (none expected)."""
    failures: list[str] = []
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.2):
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status != 200:
                        failures.append(f"{time.strftime('%X')}: {response.status}")
            except OSError as error:
                failures.append(f"{time.strftime('%X')}: {error!r}")

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield failures
    finally:
        done.set()
        thread.join()


def health_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def eventually(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return False


def workers_answer(broker: str) -> bool:
    app = Celery(broker=broker)
    try:
        return bool(app.control.ping(timeout=1))
    finally:
        app.close()


def test_it_restarts_a_component_that_dies_while_the_others_keep_serving(tmp_path: Path) -> None:
    iam_port, port = free_port(), free_port()
    env = launcher_env(
        tmp_path,
        IAM_BACKEND="embedded",
        EMBEDDED_IAM_PORT=str(iam_port),
        PORT=str(port),
        REDIS_URL=private_redis_url(1),
        CELERY_WORKER_CONCURRENCY="2",
    )
    url = f"http://127.0.0.1:{port}"
    iam = boto3.client(
        "iam",
        endpoint_url=f"http://127.0.0.1:{iam_port}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    console = Launched("iamconsole.run", env)
    try:
        assert console.wait_for(READY, 180), console.output[-4000:]
        console.note_family()
        with watching_liveness(f"{url}/health/live/") as failures:
            # The embedded backend, stopped (it saves its snapshot), then killed: restarted each time
            # from the snapshot, its users kept.
            iam.create_user(UserName="survivor")
            os.kill(console.child("users.iam.embedded"), signal.SIGTERM)
            assert console.wait_for(BACKEND_READY, 60, count=2), console.output[-4000:]
            assert "[run] The embedded IAM backend exited (code 0); restarting it in 1 s" in console.output
            assert iam.get_user(UserName="survivor")["User"]["UserName"] == "survivor"
            console.note_family()
            os.kill(console.child("users.iam.embedded"), signal.SIGKILL)
            assert console.wait_for(BACKEND_READY, 60, count=3), console.output[-4000:]
            assert "[run] The embedded IAM backend was killed by SIGKILL; restarting it in 2 s" in console.output
            assert iam.get_user(UserName="survivor")["User"]["UserName"] == "survivor"

            # The Celery worker's main process, killed: its pool goes with it, a new worker answers.
            console.note_family()
            worker = console.child("celery")
            os.kill(worker, signal.SIGKILL)
            assert eventually(lambda: not alive(worker), 10)
            assert console.wait_for("[run] The Celery worker was killed by SIGKILL; restarting it in 1 s", 10)
            assert eventually(lambda: workers_answer(env["REDIS_URL"]), 60), console.output[-4000:]
            assert eventually(lambda: health_status(f"{url}/health/") == 200, 30), console.output[-4000:]
            console.note_family()
        assert not failures, f"the web server stopped answering: {failures}"

        # Stopped while the worker waits for its restart: nothing starts again, nothing is left.
        os.kill(console.child("celery"), signal.SIGKILL)
        assert console.wait_for("[run] The Celery worker was killed by SIGKILL; restarting it in 2 s", 10)
        os.killpg(console.process.pid, signal.SIGTERM)
        left = console.left_after_stop()
        assert "Traceback" not in console.output and console.process.returncode == 0, console.output[-3000:]
        assert not left, f"left running: {sorted(left)}"
        assert console.count("-------------- celery@") == 2, console.output[-3000:]  # the banner of each start
    finally:
        console.kill_everything()
        redis.Redis.from_url(env["REDIS_URL"]).flushdb()
