"""A Redis outage (issue 14): the console's cache and Celery broker on a private redis-server of
this test, stopped and started again on the same port; IAM on the moto server.

- With Redis stopped, pages that only read IAM answer 200 (without the cache, saying so), the
  actions that need the job queue or the one-time secret store answer 503 with nothing done in
  IAM, and /health/ names the cache and the broker as down.
- A real worker (`celery worker --pool prefork` subprocess) survives Redis stopped mid-job for
  3 s, and the job ends with every user created once, with one access key, the one shown.

The machine's own Redis (the other tests') is never stopped. The private one runs with
`appendonly yes`, as the production stack does, so that a restart keeps the queue.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.test import Client
from django.urls import reverse

from iamconsole import cache_outage
from iamconsole.celery import app
from tests.iam_clients import direct_client
from tests.iam_proxy import IamProxy
from tests.integration.services import require_postgres, required
from tests.integration.test_bulk_import import (
    ROOT,
    WorkerProcess,
    _assert_created_exactly,
    _credentials,
    _database_url,
    _dry_run,
    _iam_users,
    _keys,
    _login_profile,
    _row,
    _wait_finished,
    _wait_ready,
)
from tests.test_wizard import details, step, tags
from users.models import Job, JobItem
from users.views import health

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PAGE_SECONDS = 2.0  # the most a page may take during the outage


class PrivateRedis:
    """A redis-server of this test on a free port, which `stop` and `start` keep."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *, keep_data: bool = True) -> None:
        """Start it, with its append-only file (its data), or empty without one."""
        command = [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "yes" if keep_data else "no", "--dir", str(self.data_dir),
            "--maxmemory-policy", "noeviction",
        ]  # fmt: skip
        with (self.data_dir / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(redis.RedisError):
                if client.ping():
                    return
            assert time.monotonic() < deadline, "the private redis-server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM, as a restart by docker or systemd sends: Redis writes its append-only file."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    try:
        subprocess.run(["redis-server", "--version"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        required("redis-server is not installed")
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def on_private_redis(settings, monkeypatch, private_redis: PrivateRedis, iam_server: str) -> Iterator[PrivateRedis]:
    """The console as in production, on the private Redis: the cache (with the production
    settings' timeouts) and the Celery broker; IAM on the moto server."""
    settings.CACHES = {
        "default": {
            "BACKEND": "iamconsole.redis_cache.ReusingRedisCache",
            "LOCATION": private_redis.url,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 1.0},
        }
    }
    settings.IAM_BACKEND, settings.IAM_ENDPOINT_URL = "endpoint", iam_server
    # As items (raw values), so that undoing them unsets what was unset: the read and write URLs'
    # attributes fall back to broker_url, and an attribute's undo would leave them set for good.
    for name in ("broker_url", "broker_read_url", "broker_write_url"):
        monkeypatch.setitem(app.conf, name, private_redis.url)
    monkeypatch.setattr(app.amqp, "_producer_pool", None)  # its connections lead to the other broker
    monkeypatch.setattr(health, "_latest", None)  # no report from an earlier test
    cache_outage.end_outage()
    yield private_redis
    cache_outage.end_outage()


def _wait_for(worker: WorkerProcess, what: str, condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert worker.alive(), worker.output()
        assert time.monotonic() < deadline, f"never {what}:\n{worker.output()}"
        time.sleep(0.02)


def _outage(server: PrivateRedis, worker: WorkerProcess, *, seconds: float = 3, keep_data: bool = True) -> None:
    """Redis away for `seconds`; the worker must still be running when it comes back."""
    server.stop()
    time.sleep(seconds)
    assert worker.alive(), f"the worker exited with Redis down:\n{worker.output()}"
    server.start(keep_data=keep_data)


def _done(job: Job) -> int:
    return job.items.filter(status=JobItem.Status.DONE).count()


def _confirm(client: Client, upload: Any) -> Job:
    confirmed = client.post(reverse("users:import_confirm", args=[upload.id]))
    assert confirmed.status_code == 302
    return Job.objects.get()


def _timed_get(client: Client, url: str) -> Any:
    started = time.monotonic()
    response = client.get(url)
    elapsed = time.monotonic() - started
    assert elapsed < PAGE_SECONDS, f"GET {url} took {elapsed:.1f} s"
    return response


# --- (a) Redis stopped: reads work, queue and secret-store actions answer 503 ----------------


def test_with_redis_stopped_pages_read_iam_and_actions_answer_503_with_nothing_done(
    on_private_redis: PrivateRedis, operator_client: Client, settings
) -> None:
    direct = direct_client(settings.IAM_ENDPOINT_URL)
    direct.create_group(GroupName="Developers")
    direct.create_user(UserName="marvin")
    assert _timed_get(operator_client, reverse("users:list")).status_code == 200  # the cache filled

    on_private_redis.stop()

    listing = _timed_get(operator_client, reverse("users:list"))
    assert listing.status_code == 200
    text = listing.content.decode()
    assert "marvin" in text and 'data-testid="cache-unavailable"' in text
    page = _timed_get(operator_client, reverse("users:detail", args=["marvin"]))
    assert page.status_code == 200 and 'data-testid="cache-unavailable"' in page.content.decode()

    # The Add user wizard: every step answers; the final Create answers the queue's 503.
    assert details(operator_client, names=["arthur", "ford"]).status_code == 200
    permissions = {"option": "group", "groups": ["Developers"], "boundary": "none"}
    assert step(operator_client, "permissions", permissions).status_code == 200
    assert tags(operator_client, [("team", "earth")]).status_code == 200
    created = step(operator_client, "review", {})
    assert created.status_code == 503
    assert 'data-testid="queue-unavailable"' in created.content.decode()

    # An import: the dry run reads IAM; its confirmation answers 503.
    upload = _dry_run(operator_client, [_row("zaphod"), _row("trillian")])
    confirmed = operator_client.post(reverse("users:import_confirm", args=[upload.id]))
    assert confirmed.status_code == 503 and 'data-testid="queue-unavailable"' in confirmed.content.decode()

    # A console password cannot be kept: 503 saying so, and IAM was not asked to set one.
    enable = operator_client.post(
        reverse("users:console_access", args=["marvin"]),
        {"console_access": "enable", "password_type": "autogenerated", "reset_required": "on"},
    )
    assert enable.status_code == 503 and 'data-testid="store-unavailable"' in enable.content.decode()
    assert _login_profile(direct, "marvin") is None

    readiness = Client().get("/health/")
    assert readiness.status_code == 503
    checks = readiness.json()["checks"]
    assert checks["cache"].startswith("down") and checks["broker"].startswith("down"), checks

    assert sorted(_iam_users(direct)) == ["marvin"]  # nothing created
    assert not Job.objects.exists()

    # Redis back: the same Create starts the job.
    on_private_redis.start()
    cache_outage.end_outage()  # rather than wait OUTAGE_SECONDS
    again = step(operator_client, "review", {})
    assert again.status_code == 302, again.status_code
    job = Job.objects.get()
    assert sorted(job.items.values_list("user_name", flat=True)) == ["arthur", "ford"]
    assert 'data-testid="cache-unavailable"' not in operator_client.get(reverse("users:list")).content.decode()


# --- (b) Redis stopped for 3 s while a real worker runs a job ----------------------------------


def _start_worker(settings, redis_url: str, iam_url: str, log: Path) -> WorkerProcess:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "iamconsole.settings",
        "DATABASE_URL": _database_url(settings.DATABASES["default"]),
        "REDIS_URL": redis_url,
        "IAM_BACKEND": "endpoint",
        "IAM_ENDPOINT_URL": iam_url,
        "SECRET_KEY": settings.SECRET_KEY,
        "CREDENTIALS_KEY": settings.CREDENTIALS_KEYS[0],
        "CREDENTIALS_KEY_FALLBACKS": ",".join(settings.CREDENTIALS_KEYS[1:]),
        "JOB_ITEM_STALE_SECONDS": "4",
        "JOB_SWEEP_SECONDS": "1",
        "IAM_READ_TIMEOUT": "120",  # a request the proxy holds is not sent again meanwhile
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("CELERY_BROKER_URL", None)
    command = [
        str(Path(sys.executable).parent / "celery"), "-A", "iamconsole", "worker",
        "--pool", "prefork", "--concurrency", "4", "--without-gossip", "--without-mingle",
        "--loglevel", "WARNING", "--hostname", "outage@%h",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return WorkerProcess("outage", process, log)


@pytest.fixture
def outage_worker(
    settings, on_private_redis: PrivateRedis, iam_server: str, tmp_path: Path
) -> Iterator[Callable[[str], WorkerProcess]]:
    """Start the worker subprocess; it shares the test database: PostgreSQL only (skipped on
    SQLite, except under CI)."""
    require_postgres(settings)
    started: list[WorkerProcess] = []

    def start(iam_url: str) -> WorkerProcess:
        worker = _start_worker(settings, on_private_redis.url, iam_url, tmp_path / "worker.log")
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def test_a_worker_rides_out_a_redis_restart_mid_job_and_the_job_completes_exactly(
    on_private_redis: PrivateRedis, outage_worker, iam_server: str, operator_client: Client
) -> None:
    count = 30
    direct = direct_client(iam_server)
    direct.create_group(GroupName="Developers")
    rows = [_row(f"r{n:02d}") for n in range(count)]
    upload = _dry_run(operator_client, rows)
    # 200 ms per IAM call; the last user's CreateUser waits at the proxy until the third outage
    # is over, so that the job cannot end before it, however fast the machine.
    with IamProxy(iam_server, latency=0.2, seed=14) as proxy:
        last_user = proxy.hold("CreateUser", user_name=rows[-1]["user_name"])
        worker = outage_worker(proxy.url)
        _wait_ready(worker)
        pid = worker.process.pid

        # First while the worker waits for messages, holding only the sweeper's next one: the
        # case that ended it ('NoneType' object has no attribute 'hostname').
        _outage(on_private_redis, worker)
        _wait_ready(worker)
        job = _confirm(operator_client, upload)
        # Then during the job: while every worker process is busy, and while the worker also
        # waits for messages (its queue is empty, some users are still being created).
        _wait_for(worker, "5 users done", lambda: _done(job) >= 5)
        _outage(on_private_redis, worker)
        _wait_for(
            worker,
            "the queue empty with the last user being created",
            lambda: last_user.arrived > 0 and not job.items.filter(status=JobItem.Status.QUEUED).exists(),
        )
        assert job.items.filter(status=JobItem.Status.RUNNING).exists()
        _outage(on_private_redis, worker)
        last_user.release()

        try:
            _wait_finished(job, timeout=80)
        except AssertionError as error:
            raise AssertionError(f"{error}\n{worker.output()}") from None
        assert worker.alive() and worker.process.pid == pid
        assert "Unrecoverable error" not in worker.output()

    assert not job.items.exclude(status=JobItem.Status.DONE).exists()
    assert len(_iam_users(direct)) == count
    assert all(len(_keys(direct, row["user_name"])) == 1 for row in rows)
    _assert_created_exactly(direct, job, rows, _credentials(operator_client, job))


def test_a_job_resumes_after_redis_restarts_without_its_data(
    on_private_redis: PrivateRedis, outage_worker, iam_server: str, operator_client: Client
) -> None:
    """A Redis restarted empty (no append-only file) loses the queued messages, the sweeper's
    next one and the secrets not yet shown: the worker starts a new sweeper when it connects
    again, which sends the job's waiting users again."""
    count = 20
    direct = direct_client(iam_server)
    direct.create_group(GroupName="Developers")
    rows = [_row(f"v{n:02d}", console=False) for n in range(count)]
    upload = _dry_run(operator_client, rows)
    with IamProxy(iam_server, latency=0.2, seed=15) as proxy:
        worker = outage_worker(proxy.url)
        _wait_ready(worker)
        pid = worker.process.pid
        job = _confirm(operator_client, upload)
        _wait_for(worker, "4 users done", lambda: _done(job) >= 4)
        _outage(on_private_redis, worker, seconds=1, keep_data=False)
        assert _done(job) < count, "the job was over before"
        try:
            _wait_finished(job, timeout=60)
        except AssertionError as error:
            raise AssertionError(f"{error}\n{worker.output()}") from None
        assert worker.alive() and worker.process.pid == pid

    assert not job.items.exclude(status=JobItem.Status.DONE).exists()
    assert sorted(_iam_users(direct)) == [row["user_name"] for row in rows]
    assert all(len(_keys(direct, row["user_name"])) == 1 for row in rows)
