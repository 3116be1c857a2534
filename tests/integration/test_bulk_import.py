"""Bulk import end to end (users/imports.py, users/views/imports.py): upload → dry run → confirm
through the views, then real Celery workers on the tests' Redis creating the users in a moto
server, sometimes through the fault-injecting proxy (tests/iam_proxy.py).

What IAM holds is always read straight from the moto server, never through the proxy or the
console's gateway. Checks: RELIABILITY.md L1, L2, L3, F1, F2, F3, F4.

Workers:
- in a thread of this process (`_thread_worker`): runs on SQLite and PostgreSQL. It shares
  Django settings with the views, so a proxy endpoint applies to both: faults are added only
  once the dry run is read (the console's account info is cached by then);
- in a subprocess (`worker_processes`), for the SIGKILL test: a `celery worker --pool prefork`
  on the production settings module, sharing the test database (PostgreSQL only: an in-memory
  SQLite database cannot be shared; skipped then, a failure under CI=true), the tests' Redis
  (broker and cache) and the credentials key.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import pytest
import redis
from celery.signals import before_task_publish
from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError
from django.http import StreamingHttpResponse
from django.test import Client
from django.urls import resolve, reverse

from tests.celery_workers import thread_worker
from tests.faults import instant_retries
from tests.iam_clients import direct_client
from tests.iam_proxy import IamProxy
from tests.integration.services import require_postgres
from users import job_items, jobs, provisioning, tasks
from users.iam.gateway import IamGateway
from users.models import AuditEvent, Job, JobItem, UserImport
from users.provisioning import CHANGE_PASSWORD_POLICY_ARN, CREATED_BY_TAG
from users.tasks import MAX_RETRIES, RETRY_BACKOFF_MAX, probe

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

Status = JobItem.Status
ROOT = Path(__file__).resolve().parents[2]
COLUMNS = ("user_name", "groups", "tags", "console_access", "password_reset_required", "programmatic_access")
GROUPS = ("Developers", "Testers", "Ops")
NOT_CREATED_BY_THIS_JOB = "already exists (not created by this job)"


# --- Fixtures ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def shared_cache(redis_cache: redis.Redis) -> redis.Redis:
    """Every test here: the cache (one-time store, a job's password-policy cache) on Redis."""
    return redis_cache


@pytest.fixture
def endpoint(settings, iam_server: str) -> Callable[[str], None]:
    """Point the console (views and in-thread workers) at an IAM endpoint URL."""

    def point(url: str) -> None:
        settings.IAM_BACKEND = "endpoint"
        settings.IAM_ENDPOINT_URL = url

    point(iam_server)
    return point


@pytest.fixture
def direct(iam_server: str) -> Any:
    """boto3 straight to the moto server: what IAM really holds (no proxy, no console code)."""
    return direct_client(iam_server)


@pytest.fixture
def groups(direct: Any) -> tuple[str, ...]:
    for name in GROUPS:
        direct.create_group(GroupName=name)
    return GROUPS


@pytest.fixture
def proxy(iam_server: str) -> Iterator[IamProxy]:
    """The fault-injecting proxy, without latency, in front of the emptied moto server."""
    with IamProxy(iam_server, latency=0.0, seed=20261123) as running:
        yield running
    IamGateway.forget_clients()  # their pooled connections lead to a proxy that is gone


@pytest.fixture
def published() -> Iterator[list[dict[str, Any]]]:
    """Every task message sent from this process (views and in-thread workers) while the test
    runs: task name, headers, and when it was sent."""
    messages: list[dict[str, Any]] = []

    def record(sender=None, body=None, headers=None, **kwargs) -> None:
        messages.append({"task": sender, "body": body, "headers": dict(headers or {}), "sent": datetime.now(UTC)})

    before_task_publish.connect(record, weak=False)
    yield messages
    before_task_publish.disconnect(record)


def _on_postgresql() -> bool:
    return "postgresql" in django_settings.DATABASES["default"]["ENGINE"]


@contextmanager
def _thread_worker() -> Iterator[Any]:
    """A real Celery worker in threads of this process, consuming from the tests' Redis: 4
    threads on PostgreSQL, 1 on SQLite, whose shared in-memory database refuses (rather than
    waits for) a second writer. Each refusal is a database error the task retries, so the
    reconciliation paths run there more often than on PostgreSQL."""
    with thread_worker(concurrency=4 if _on_postgresql() else 1) as worker:
        yield worker


# --- Worker subprocesses (PostgreSQL only) ---------------------------------------------------


@pytest.fixture
def postgres_required(settings) -> None:
    """A worker subprocess must share the test database: PostgreSQL (tests/integration/services.py)."""
    require_postgres(settings)


@dataclass
class WorkerProcess:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the worker and its prefork children (its own process group)."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=20)

    def stop(self) -> None:
        """A warm shutdown (SIGTERM), then SIGKILL if it does not end."""
        if not self.alive():
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):  # children left behind by the main process
            os.killpg(self.process.pid, signal.SIGKILL)


def _database_url(database: dict[str, Any]) -> str:
    user = quote(database.get("USER") or "", safe="")
    password = quote(database.get("PASSWORD") or "", safe="")
    userinfo = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = database.get("HOST") or "127.0.0.1"
    port = f":{database['PORT']}" if database.get("PORT") else ""
    return f"postgresql://{userinfo}{host}{port}/{quote(database['NAME'], safe='')}"


@pytest.fixture
def worker_processes(
    postgres_required, transactional_db, settings, redis_cache, tmp_path: Path
) -> Iterator[Callable[..., WorkerProcess]]:
    """Start `celery worker --pool prefork` subprocesses on the test database and Redis; each is
    stopped (warm, then SIGKILL) before the database is flushed."""
    started: list[WorkerProcess] = []

    def start(
        iam_url: str, *, name: str, concurrency: int = 4, stale_seconds: int = 4, sweep_seconds: int = 1
    ) -> WorkerProcess:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "iamconsole.settings",
            "DATABASE_URL": _database_url(settings.DATABASES["default"]),
            "REDIS_URL": settings.TEST_REDIS_URL,
            "IAM_BACKEND": "endpoint",
            "IAM_ENDPOINT_URL": iam_url,
            "SECRET_KEY": settings.SECRET_KEY,
            "CREDENTIALS_KEY": settings.CREDENTIALS_KEYS[0],
            "CREDENTIALS_KEY_FALLBACKS": ",".join(settings.CREDENTIALS_KEYS[1:]),
            "JOB_ITEM_STALE_SECONDS": str(stale_seconds),
            "JOB_SWEEP_SECONDS": str(sweep_seconds),
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("CELERY_BROKER_URL", None)
        log = tmp_path / f"{name}.log"
        command = [
            str(Path(sys.executable).parent / "celery"), "-A", "iamconsole", "worker",
            "--pool", "prefork", "--concurrency", str(concurrency), "--without-gossip", "--without-mingle",
            "--loglevel", "WARNING", "--hostname", f"{name}@%h",
        ]  # fmt: skip
        with log.open("wb") as out:
            process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        worker = WorkerProcess(name, process, log)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def _wait_ready(worker: WorkerProcess, timeout: float = 60) -> None:
    """Wait until the worker ran a probe task (broker → worker → IAM → the shared cache)."""
    key = f"probe:{uuid.uuid4()}"
    probe.delay(key)
    deadline = time.monotonic() + timeout
    while cache.get(key) is None:
        assert worker.alive(), f"worker {worker.name} exited:\n{worker.output()}"
        assert time.monotonic() < deadline, f"worker {worker.name} not ready:\n{worker.output()}"
        time.sleep(0.1)
    assert cache.get(key) == "123456789012"


# --- Upload, dry run, confirm: through the views ----------------------------------------------


def _csv(rows: Sequence[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def _row(
    name: str,
    *,
    groups: Sequence[str] = ("Developers",),
    tags: Sequence[tuple[str, str]] = (("team", "web"),),
    console: bool = True,
    reset: bool = True,
    keys: bool = True,
) -> dict[str, str]:
    yes = {True: "yes", False: "no"}
    return {
        "user_name": name,
        "groups": ";".join(groups),
        "tags": ";".join(f"{key}={value}" for key, value in tags),
        "console_access": yes[console],
        "password_reset_required": yes[reset],
        "programmatic_access": yes[keys],
    }


def _dry_run(client: Client, rows: Sequence[dict[str, str]], file_name: str = "users.csv") -> UserImport:
    """Upload the rows; the dry run must pass, and its page must offer the confirmation."""
    file = SimpleUploadedFile(file_name, _csv(rows), content_type="text/csv")
    response = client.post(reverse("users:import"), {"file": file})
    assert response.status_code == 302, response.context["form"].errors if response.context else response
    upload = UserImport.objects.get(pk=resolve(response["Location"]).kwargs["import_id"])
    assert (upload.rows_total, upload.rows_invalid, upload.errors) == (len(rows), 0, [])

    page = client.get(response["Location"])
    assert page.status_code == 200
    text = page.content.decode()
    assert re.search(rf'data-testid="rows-total">{len(rows):,}<', text)
    assert re.search(r'data-testid="rows-invalid">0<', text)
    assert 'data-testid="import-confirm"' in text
    return upload


def _confirm(client: Client, upload: UserImport) -> Job:
    response = client.post(reverse("users:import_confirm", args=[upload.id]))
    assert response.status_code == 302
    match = resolve(response["Location"])
    assert match.url_name == "job_detail"
    job = Job.objects.get(pk=match.kwargs["job_id"])
    assert job.source == Job.Source.IMPORT
    upload.refresh_from_db()
    assert upload.job_id == job.id
    return job


def _wait_finished(job: Job, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            job.refresh_from_db()
            if job.finished_at and not job.items.filter(status__in=job_items.ACTIVE).exists():
                return
        except OperationalError:
            pass  # SQLite's shared in-memory database locks tables while a worker writes
        time.sleep(0.2)
    raise AssertionError(f"job not finished: {Counter(job.items.values_list('status', flat=True))}")


def _item(job: Job, name: str) -> JobItem:
    return job.items.get(user_name=name)


def _statuses(job: Job) -> dict[str, str]:
    return dict(job.items.values_list("user_name", "status"))


def _credentials(client: Client, job: Job) -> dict[str, dict[str, str]]:
    """The credentials CSV the operator downloads, by user name."""
    response = client.get(reverse("users:job_credentials_csv", args=[job.id]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert isinstance(response, StreamingHttpResponse)
    rows = list(csv.DictReader(io.StringIO(response.getvalue().decode())))
    by_name = {row["User name"]: row for row in rows}
    assert len(by_name) == len(rows), "a user appears twice in the credentials CSV"
    return by_name


# --- What IAM holds ---------------------------------------------------------------------------


def _iam_users(direct: Any) -> dict[str, dict[str, Any]]:
    """Every user with its groups, tags and attached policies (GetAccountAuthorizationDetails)."""
    users: dict[str, dict[str, Any]] = {}
    for page in direct.get_paginator("get_account_authorization_details").paginate(Filter=["User"]):
        for user in page["UserDetailList"]:
            users[user["UserName"]] = user
    return users


def _keys(direct: Any, name: str) -> list[str]:
    return [key["AccessKeyId"] for key in direct.list_access_keys(UserName=name)["AccessKeyMetadata"]]


def _login_profile(direct: Any, name: str) -> dict[str, Any] | None:
    try:
        return cast(dict[str, Any], direct.get_login_profile(UserName=name)["LoginProfile"])
    except direct.exceptions.NoSuchEntityException:
        return None


def _tags(direct: Any, name: str) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in direct.list_user_tags(UserName=name)["Tags"]}


def _audit(target: str, *, after: int = 0) -> list[tuple[str, str, str]]:
    """The audit trail of one user: (action, outcome, error code), oldest first; only the rows
    after the audit row id `after`."""
    rows = AuditEvent.objects.filter(target=target, id__gt=after).order_by("id")
    return list(rows.values_list("action", "outcome", "error_code"))


def _last_audit_id() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def _assert_each_key_created_once_or_orphaned(proxy: IamProxy, count: int) -> None:
    """Keys IAM created (forwarded CreateAccessKey) minus the orphans the console deleted (each
    audited) is one per user: a key is created again only after an unclear attempt."""
    deleted = AuditEvent.objects.filter(action="DeleteAccessKey", outcome=AuditEvent.Outcome.SUCCESS).count()
    assert proxy.counts.forwarded["CreateAccessKey"] - deleted == count


def _latest_steps(item: JobItem) -> dict[str, dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for entry in item.steps:
        latest[entry["step"]] = entry
    return latest


def _assert_created_exactly(
    direct: Any, job: Job, rows: Sequence[dict[str, str]], credentials: dict[str, dict[str, str]]
) -> None:
    """IAM holds exactly the rows' users, each as planned, with one access key that is the one
    in the credentials CSV and on the item; a password in the CSV exactly for console users."""
    expected = {row["user_name"]: row for row in rows}
    users = _iam_users(direct)
    assert sorted(users) == sorted(expected)
    items = {item.user_name: item for item in job.items.all()}
    assert {name: item.status for name, item in items.items()} == dict.fromkeys(expected, Status.DONE)
    assert sorted(credentials) == sorted(expected)
    for name, row in expected.items():
        user = users[name]
        assert sorted(user.get("GroupList", [])) == sorted(filter(None, row["groups"].split(";"))), name
        wanted_tags = dict(pair.split("=", 1) for pair in filter(None, row["tags"].split(";")))
        # ...and the console's own tag, naming the job item that created the user.
        wanted_tags[CREATED_BY_TAG] = job_items.created_by(items[name])
        assert _tags(direct, name) == wanted_tags, name
        console, reset = row["console_access"] == "yes", row["password_reset_required"] == "yes"
        profile = _login_profile(direct, name)
        assert (profile is not None) == console, name
        if profile is not None:
            assert profile["PasswordResetRequired"] == reset, name
        attached = [policy["PolicyArn"] for policy in user.get("AttachedManagedPolicies", [])]
        # The account has IAM's default password policy: console users who must reset get
        # IAMUserChangePassword (FEATURES.md §3A).
        assert attached == ([CHANGE_PASSWORD_POLICY_ARN] if console and reset else []), name
        keys = _keys(direct, name)
        assert keys == [items[name].access_key_id] == [credentials[name]["Access key ID"]], name
        assert len(credentials[name]["Secret access key"]) == 40, name
        assert bool(credentials[name]["Password"]) == console, name


# --- 1. A 200-row import (L1) -----------------------------------------------------------------


def _many_rows(count: int) -> list[dict[str, str]]:
    """Varied rows: odd but valid names, one to three groups, Unicode tag values, console access
    for three users in four, password reset for two in three; an access key each."""
    rows = []
    for n in range(count):
        name = (f"user{n:03d}", f"ann.{n}@example.com", f"svc_{n}+ci=1", f"o,dd-{n}")[n % 4]
        groups = ["Developers"] + (["Testers"] if n % 2 else []) + (["Ops"] if n % 5 == 0 else [])
        tags = [("team", ("web", "data", "ops")[n % 3]), ("cost-center", str(1000 + n))]
        if n % 7 == 0:
            tags.append(("owner", "Jos\u00e9 Mar\u00eda"))
        rows.append(_row(name, groups=groups, tags=tags, console=n % 4 != 3, reset=n % 3 != 0))
    return rows


def test_a_200_row_import_creates_exactly_those_users_once(
    endpoint, groups, direct, operator_client, published
) -> None:
    rows = _many_rows(200)
    upload = _dry_run(operator_client, rows)
    assert _iam_users(direct) == {}, "the dry run created something"
    job = _confirm(operator_client, upload)
    assert job.items.count() == 200

    with _thread_worker():
        _wait_finished(job, timeout=150)

    _assert_created_exactly(direct, job, rows, _credentials(operator_client, job))
    counts = jobs.job_counts(job)
    assert (counts.done, counts.total, counts.percent, counts.is_finished) == (200, 200, 100, True)
    # Each user created once; a key created again only after its orphan was deleted.
    for row in rows:
        trail = _audit(row["user_name"])
        assert trail.count(("CreateUser", "success", "")) == 1
        assert trail.count(("CreateAccessKey", "success", "")) - trail.count(("DeleteAccessKey", "success", "")) == 1
    runs = [m for m in published if m["task"] == "users.tasks.run_job_items"]
    chunks = [m["body"][0][0] for m in runs if not m["headers"].get("eta")]
    assert [len(chunk) for chunk in chunks] == [25] * 8  # the job, in 8 messages
    assert sorted(item_id for chunk in chunks for item_id in chunk) == sorted(job.items.values_list("id", flat=True))
    if _on_postgresql():
        # Nothing to retry or reconcile: not one failed call, not one item sent again. (On
        # SQLite, a refused write makes the item retry and reconcile, e.g. EntityAlreadyExists.)
        assert not AuditEvent.objects.filter(outcome=AuditEvent.Outcome.FAILURE).exists()
        assert not AuditEvent.objects.filter(action="DeleteAccessKey").exists()
        assert len(runs) == 8


# --- 2. SIGKILL the worker after a third (F1) --------------------------------------------------


def _finish_on_a_new_worker(worker: WorkerProcess, job: Job) -> None:
    """Wait until `worker`, started after another was killed, finished the job."""
    try:
        _wait_finished(job, timeout=90)
    except AssertionError as error:
        raise AssertionError(f"{error}\n{worker.output()}") from None


def test_a_worker_killed_after_a_third_is_replaced_and_the_job_completes_exactly(
    worker_processes, endpoint, iam_server, groups, direct, operator_client
) -> None:
    count = 90
    rows = [_row(f"k{n:03d}", groups=("Developers", "Testers")) for n in range(count)]
    upload = _dry_run(operator_client, rows)

    first = worker_processes(iam_server, name="first")
    _wait_ready(first)
    job = _confirm(operator_client, upload)

    deadline = time.monotonic() + 60
    while (done := job.items.filter(status=Status.DONE).count()) < count // 3:
        assert first.alive(), first.output()
        assert time.monotonic() < deadline, f"only {done} done:\n{first.output()}"
        time.sleep(0.02)
    first.kill()
    at_kill = Counter(job.items.values_list("status", flat=True))
    assert first.process.returncode == -signal.SIGKILL
    assert count // 3 <= at_kill[Status.DONE] < count, at_kill
    # What makes this a test of recovery: items a dead worker left RUNNING.
    stuck = set(job.items.filter(status=Status.RUNNING).values_list("id", flat=True))
    assert stuck, f"no item was running when the worker died: {at_kill}"

    _finish_on_a_new_worker(worker_processes(iam_server, name="second"), job)
    assert not job.items.exclude(status=Status.DONE).exists()
    _assert_created_exactly(direct, job, rows, _credentials(operator_client, job))
    # The stuck items were taken again (sweeper), never failed as poison items.
    assert all(attempts >= 2 for attempts in job.items.filter(id__in=stuck).values_list("attempts", flat=True))
    assert not job.items.filter(error_code="WorkerLost").exists()
    # Every key deleted was an orphan nobody holds the secret of, and audited.
    for name, key_id in AuditEvent.objects.filter(action="DeleteAccessKey").values_list(
        "target", "parameters__AccessKeyId"
    ):
        assert key_id not in _keys(direct, name)
    assert not AuditEvent.objects.filter(error_code="LimitExceeded").exists()


def test_a_chunk_killed_half_way_is_taken_again_and_creates_each_user_once(
    worker_processes, endpoint, iam_server, groups, direct, operator_client
) -> None:
    """One message of 25 items, run 8 at a time by the only worker process: SIGKILL it once
    some outcomes are saved and others are not. The claimed items it left RUNNING (started or
    not, their successes unsaved) are taken again by the next worker, and the job ends with
    exactly one user and one key each."""
    count = 25
    rows = [_row(f"h{n:02d}", groups=("Developers",)) for n in range(count)]
    upload = _dry_run(operator_client, rows)
    with IamProxy(iam_server, latency=0.2, seed=20261205) as slow:
        first = worker_processes(slow.url, name="first", concurrency=1)
        _wait_ready(first)
        job = _confirm(operator_client, upload)
        deadline = time.monotonic() + 60
        while (done := job.items.filter(status=Status.DONE).count()) < 5:
            assert first.alive() and time.monotonic() < deadline, f"only {done} done:\n{first.output()}"
            time.sleep(0.02)
        first.kill()
    at_kill = Counter(job.items.values_list("status", flat=True))
    assert at_kill[Status.DONE] < count and at_kill[Status.RUNNING] == count - at_kill[Status.DONE], at_kill
    assert len(set(job.items.values_list("claim", flat=True))) == 1  # one chunk, one claim

    _finish_on_a_new_worker(worker_processes(iam_server, name="second"), job)
    assert jobs.job_counts(job).as_dict()["done"] == count
    _assert_created_exactly(direct, job, rows, _credentials(operator_client, job))
    assert not job.items.filter(error_code="WorkerLost").exists()


# --- 3. Faults in front of moto (L3, F2, F4) ---------------------------------------------------


def _faulty_run(
    client: Client, endpoint, proxy: IamProxy, rows: Sequence[dict[str, str]], add_faults: Callable[[], Any]
) -> Job:
    """Dry run (no faults), then the faults, then confirm and run the job on an in-thread worker
    whose IAM calls go through the proxy."""
    endpoint(proxy.url)
    upload = _dry_run(client, rows)  # also caches the account info the confirmation needs
    add_faults()
    job = _confirm(client, upload)
    with _thread_worker():
        _wait_finished(job)
    return job


def test_a_throttling_storm_ends_with_every_user_done(
    endpoint, proxy, groups, direct, operator_client, published, monkeypatch
) -> None:
    # For speed only: an item's backoff factor 1 s instead of 2 s (its cap still doubles per
    # retry); the SDK's backoff and CreateAccessKey's in-process waits without sleeping.
    monkeypatch.setattr(tasks, "RETRY_BACKOFF", 1)
    monkeypatch.setattr(provisioning, "THROTTLED_KEY_BACKOFF", (0.0,) * len(provisioning.THROTTLED_KEY_BACKOFF))
    count = 25
    rows = [_row(f"t{n:02d}", groups=("Developers", "Ops")) for n in range(count)]
    with instant_retries():
        job = _faulty_run(
            operator_client, endpoint, proxy, rows, lambda: proxy.add_fault(code="Throttling", probability=0.3)
        )
    throttles = proxy.counts.injected
    proxy.clear_faults()

    assert _statuses(job) == dict.fromkeys((row["user_name"] for row in rows), Status.DONE)
    _assert_created_exactly(direct, job, rows, _credentials(operator_client, job))
    assert throttles.total() > 25 and throttles["CreateAccessKey"] > 0
    # A throttled call never reached IAM: each user created once, each key once (or again
    # after its orphan was deleted).
    for row in rows:
        assert _audit(row["user_name"]).count(("CreateUser", "success", "")) == 1
    _assert_each_key_created_once_or_orphaned(proxy, count)
    if _on_postgresql():
        assert (proxy.counts.forwarded["CreateUser"], proxy.counts.forwarded["CreateAccessKey"]) == (count, count)
    # An item sent again (after a step's in-process attempts were all throttled) waited with a
    # countdown whose cap doubles per retry of that item (full jitter: anywhere in [0, cap]).
    retries = [m for m in published if m["task"] == "users.tasks.run_job_items" and m["headers"].get("eta")]
    sent_again: Counter[int] = Counter()
    for message in retries:
        [item_id] = message["body"][0][0]
        sent_again[item_id] += 1
        countdown = (datetime.fromisoformat(message["headers"]["eta"]) - message["sent"]).total_seconds()
        cap = min(RETRY_BACKOFF_MAX, 1 * 2 ** (sent_again[item_id] - 1))
        assert -0.5 <= countdown <= cap + 0.5, (sent_again[item_id], countdown)
    assert all(times <= MAX_RETRIES for times in sent_again.values())


def test_a_lost_create_access_key_response_leaves_one_key_the_one_shown(
    endpoint, proxy, groups, direct, operator_client
) -> None:
    names = ["ann", "bob", "cy", "dora", "ed"]
    rows = [_row(name) for name in names]
    job = _faulty_run(
        operator_client, endpoint, proxy, rows,
        lambda: proxy.add_fault("CreateAccessKey", user_name="dora", drop_response=True, times=1),
    )  # fmt: skip

    credentials = _credentials(operator_client, job)
    _assert_created_exactly(direct, job, rows, credentials)
    assert proxy.counts.dropped["CreateAccessKey"] == 1
    _assert_each_key_created_once_or_orphaned(proxy, len(names))  # IAM made a key too many…
    [key] = _keys(direct, "dora")  # …and the console deleted it, not the one it shows
    assert key == credentials["dora"]["Access key ID"] == job.items.get(user_name="dora").access_key_id
    deletes = list(
        AuditEvent.objects.filter(action="DeleteAccessKey", target="dora").values_list("parameters", "outcome")
    )
    assert deletes and all(outcome == "success" and parameters["AccessKeyId"] != key for parameters, outcome in deletes)
    key_calls = [entry for entry in _audit("dora") if entry[0] == "CreateAccessKey"]
    assert key_calls[0] == ("CreateAccessKey", "failure", "NoResponse") and key_calls[-1][1] == "success"
    if _on_postgresql():
        assert len(deletes) == 1 and AuditEvent.objects.filter(action="DeleteAccessKey").count() == 1
        assert key_calls == [("CreateAccessKey", "failure", "NoResponse"), ("CreateAccessKey", "success", "")]
    assert not AuditEvent.objects.filter(error_code="LimitExceeded").exists()
    dora = job.items.get(user_name="dora")
    key_steps = [
        (entry["status"], entry.get("error_code")) for entry in dora.steps if entry["step"] == "CreateAccessKey"
    ]
    assert key_steps[0] == ("failed", "NoResponse") and key_steps[-1] == ("done", None)


def test_a_limit_exceeded_fails_one_row_at_its_step_and_retry_finishes_it(
    endpoint, proxy, groups, direct, operator_client
) -> None:
    names = ["ann", "bob", "cy", "dora", "ed"]
    rows = [_row(name, groups=("Developers", "Testers")) for name in names]
    quota = "Cannot exceed quota for GroupsPerUser: 10."
    job = _faulty_run(
        operator_client, endpoint, proxy, rows,
        lambda: proxy.add_fault(
            "AddUserToGroup", user_name="cy", code="LimitExceeded", status=409, message=quota
        ),
    )  # fmt: skip

    statuses = _statuses(job)
    assert statuses == {"ann": "done", "bob": "done", "cy": "failed", "dora": "done", "ed": "done"}
    cy = job.items.get(user_name="cy")
    assert (cy.error_code, cy.error_message) == ("LimitExceeded", quota)
    steps = _latest_steps(cy)
    assert steps["CreateUser"]["status"] == steps["CreateLoginProfile"]["status"] == "done"
    failed = steps["AddUserToGroup:Developers"]
    assert (failed["status"], failed["error_code"], failed["error_message"]) == ("failed", "LimitExceeded", quota)
    assert failed["request_id"].startswith("proxy-fault-AddUserToGroup-LimitExceeded")
    assert "AddUserToGroup:Testers" not in steps and "CreateAccessKey" not in steps  # later steps not run
    # Not retried, by the SDK or by Celery (on SQLite, a refused write of the outcome makes the
    # task run again, which is another fault); nothing rolled back.
    if _on_postgresql():
        assert (proxy.counts.injected["AddUserToGroup"], cy.attempts) == (1, 1)
    assert _keys(direct, "cy") == [] and direct.list_groups_for_user(UserName="cy")["Groups"] == []
    assert "cy" in _iam_users(direct)
    page = operator_client.get(reverse("users:job_detail", args=[job.id])).content.decode()
    assert f"LimitExceeded: {quota}" in page
    trail = _audit("cy")
    assert trail[-1] == ("AddUserToGroup", "failure", "LimitExceeded")
    assert {entry for entry in trail if entry[0] == "AddUserToGroup"} == {trail[-1]}

    proxy.clear_faults()
    before_retry = _last_audit_id()
    response = operator_client.post(reverse("users:job_retry", args=[job.id]))
    assert response.status_code == 302
    assert job.items.get(user_name="cy").status == Status.QUEUED
    with _thread_worker():
        _wait_finished(job)

    _assert_created_exactly(direct, job, rows, _credentials(operator_client, job))
    # The retry resumed at the failed step: nothing before it ran again.
    retried = _audit("cy", after=before_retry)
    assert {action for action, _, _ in retried} == {"AddUserToGroup", "CreateAccessKey"}
    assert retried[:2] == [("AddUserToGroup", "success", ""), ("AddUserToGroup", "success", "")]
    assert _audit("ann", after=before_retry) == []  # the rows that were done: untouched


# --- 4. Two overlapping jobs with case variants (L2, F3) ---------------------------------------


def test_overlapping_jobs_create_each_name_once_and_the_loser_touches_nothing(
    endpoint, groups, direct, operator_client
) -> None:
    """L2: two imports naming the same users, in another case (IAM names are unique regardless
    of case) or the same. Both dry runs pass (neither job has run), both are confirmed."""
    pairs = [
        ("alice", "Alice"), ("bob", "BOB"), ("carol", "Carol"), ("dave", "dAVE"), ("erin", "Erin"),
        ("frank", "FRANK"), ("grace", "Grace"), ("heidi", "HEIDI"), ("ivan", "ivan"), ("judy", "judy"),
    ]  # fmt: skip
    first_rows = [_row(name, groups=("Developers",)) for name, _ in pairs]
    # Reversed: the second job's first items race the first job's last ones.
    second_rows = [_row(name, groups=("Testers",)) for _, name in reversed(pairs)]
    first_upload = _dry_run(operator_client, first_rows, "first.csv")
    second_upload = _dry_run(operator_client, second_rows, "second.csv")  # IAM has none of them yet
    first, second = _confirm(operator_client, first_upload), _confirm(operator_client, second_upload)

    with _thread_worker():
        _wait_finished(first)
        _wait_finished(second)

    users = _iam_users(direct)
    assert len(users) == len(pairs)
    winners = {first: 0, second: 0}
    for first_name, second_name in pairs:
        ours, theirs = _item(first, first_name), _item(second, second_name)
        [created] = [user for user in users if user.casefold() == first_name]
        assert sorted([ours.status, theirs.status]) == [Status.DONE, Status.FAILED], (first_name, second_name)
        winner, loser = (ours, theirs) if ours.status == Status.DONE else (theirs, ours)
        winners[winner.job] += 1
        assert created == winner.user_name
        assert loser.error_code == "EntityAlreadyExists"
        assert loser.error_message == (
            f"A user named {loser.user_name} {NOT_CREATED_BY_THIS_JOB}. Choose another name and add this user again."
        )
        assert {entry["step"] for entry in loser.steps} == {"CreateUser"}  # no later step started
        assert loser.access_key_id == "" and not loser.has_password
        # Not one mutating call on the loser's name but its refused CreateUser (a second one
        # only when the worker could not save the first outcome: SQLite).
        refused = ("CreateUser", "failure", "EntityAlreadyExists")
        if loser.user_name != winner.user_name:
            assert set(_audit(loser.user_name)) == {refused}
            if _on_postgresql():
                assert _audit(loser.user_name) == [refused]
        elif _on_postgresql():  # same name: the winner's calls and the loser's refused one
            assert Counter(_audit(created)) == Counter([refused] + [
                (action, "success", "")
                for action in (
                    "CreateUser", "CreateLoginProfile", "AttachUserPolicy", "AddUserToGroup", "CreateAccessKey"
                )
            ])  # fmt: skip
        assert _keys(direct, created) == [winner.access_key_id]
        groups_of = [group["GroupName"] for group in direct.list_groups_for_user(UserName=created)["Groups"]]
        assert groups_of == ["Developers" if winner.job == first else "Testers"]
    # Each job's credentials: its winners only; its page says why the others failed.
    for job in (first, second):
        credentials = _credentials(operator_client, job)
        done = {item.user_name: item for item in job.items.filter(status=Status.DONE)}
        assert set(credentials) == set(done)
        assert all(credentials[name]["Access key ID"] == item.access_key_id for name, item in done.items())
        page = operator_client.get(reverse("users:job_detail", args=[job.id])).content.decode()
        assert (NOT_CREATED_BY_THIS_JOB in page) == (winners[job] < len(pairs))


# --- Ownership of a user after lost answers, and patience with a throttled CreateAccessKey ----


def test_a_lost_create_user_response_is_resumed_not_reported_as_someone_elses(
    endpoint, proxy, groups, direct, operator_client
) -> None:
    """F3: CreateUser executed, its response lost. The SDK resends it (botocore's standard
    mode retries a connection error for every operation) and IAM answers EntityAlreadyExists:
    the user is this job's own, created a moment ago by the same step. It must be resumed (one
    user, one key), not reported as "not created by this job": it carries our tag."""
    rows = [_row("ann"), _row("bob")]
    job = _faulty_run(
        operator_client, endpoint, proxy, rows,
        lambda: proxy.add_fault("CreateUser", user_name="ann", drop_response=True, times=1),
    )  # fmt: skip

    assert proxy.counts.dropped["CreateUser"] == 1
    ann = _item(job, "ann")
    assert (ann.status, ann.error_code, ann.error_message) == (Status.DONE, "", ""), (
        f"the job disowned the user it created: {ann.error_message}"
    )
    _assert_created_exactly(direct, job, rows, _credentials(operator_client, job))


def test_a_user_whose_create_response_was_lost_stays_the_jobs_after_another_unclear_run(
    endpoint, proxy, groups, direct, operator_client, settings, monkeypatch
) -> None:
    """F3 across runs: a run's CreateUser executes but no answer gets back (NoResponse, every
    SDK attempt lost); the next run is throttled before it can tell (or its worker dies, or the
    database is away when it saves); the run after finds the user. It is this job's user, made
    by the first run, and its tag says so: it must be resumed however long the runs were apart.

    The first retry waits 6 s here; in production that gap is a Celery countdown (up to 60 s)
    or the sweeper's JOB_ITEM_STALE_SECONDS (6 min) after a killed worker."""
    monkeypatch.setattr(
        "users.tasks.get_exponential_backoff_interval",
        lambda factor, retries, maximum, full_jitter: 6 if retries == 0 else 0,
    )
    attempts = settings.IAM_MAX_ATTEMPTS
    rows = [_row("ann"), _row("bob")]
    with instant_retries():
        job = _faulty_run(
            operator_client, endpoint, proxy, rows,
            lambda: (
                proxy.add_fault("CreateUser", user_name="ann", drop_response=True, times=attempts),
                proxy.add_fault("CreateUser", user_name="ann", code="Throttling", times=attempts),
            ),
        )  # fmt: skip

    ann = _item(job, "ann")
    runs = [(entry["status"], entry.get("error_code")) for entry in ann.steps if entry["step"] == "CreateUser"]
    assert runs[:2] == [("failed", "NoResponse"), ("failed", "Throttling")]
    assert (ann.status, ann.error_code, ann.error_message) == (Status.DONE, "", ""), (
        f"the job disowned the user its own first run created: {ann.error_message}"
    )
    _assert_created_exactly(direct, job, rows, _credentials(operator_client, job))


def test_a_retried_row_never_takes_over_a_user_another_job_created_meanwhile(
    endpoint, proxy, groups, direct, operator_client
) -> None:
    """F3: two imports both name `alice` (both dry runs pass). The second job's CreateUser is
    refused (AccessDenied: IAM created nothing); the first job then creates alice; the operator
    presses Retry on the second job. alice is someone else's now: the row must fail as "already
    exists (not created by this job)" and make no change to her, whatever her CreateDate."""
    endpoint(proxy.url)
    first_upload = _dry_run(operator_client, [_row("alice", groups=("Developers",)), _row("bob")], "first.csv")
    second_upload = _dry_run(operator_client, [_row("alice", groups=("Testers",)), _row("carol")], "second.csv")

    proxy.add_fault("CreateUser", user_name="alice", code="AccessDenied", status=403, times=1)
    second = _confirm(operator_client, second_upload)
    with _thread_worker():
        _wait_finished(second)
    assert _statuses(second) == {"alice": "failed", "carol": "done"}
    assert _item(second, "alice").error_code == "AccessDenied"

    first = _confirm(operator_client, first_upload)
    with _thread_worker():
        _wait_finished(first)
    assert _statuses(first) == {"alice": "done", "bob": "done"}
    first_key = _item(first, "alice").access_key_id
    before_retry = _last_audit_id()

    assert operator_client.post(reverse("users:job_retry", args=[second.id])).status_code == 302
    with _thread_worker():
        _wait_finished(second)

    alice = _item(second, "alice")
    changes = [entry[:2] for entry in _audit("alice", after=before_retry)]
    assert (alice.status, alice.error_code) == (Status.FAILED, "EntityAlreadyExists"), (
        f"the second job took over the first job's alice: {alice.status}, calls {changes}"
    )
    assert NOT_CREATED_BY_THIS_JOB in alice.error_message
    assert changes == [("CreateUser", "failure")]
    assert _keys(direct, "alice") == [first_key]
    assert [group["GroupName"] for group in direct.list_groups_for_user(UserName="alice")["Groups"]] == ["Developers"]


def test_a_throttled_create_access_key_is_retried_as_patiently_as_any_other_step(
    endpoint, proxy, groups, direct, operator_client, settings, monkeypatch
) -> None:
    """IAM answers Throttling only for a request it did not execute, so resending it is safe,
    even for CreateAccessKey. Any other step survives IAM_MAX_ATTEMPTS throttles in a row (the
    SDK retries them) within each Celery run; CreateAccessKey, which the SDK never resends, is
    sent again in-process after a throttle (provisioning.THROTTLED_KEY_BACKOFF), so it is as
    patient: under L3's storm (30 % Throttling) no user runs out of attempts."""
    monkeypatch.setattr(provisioning, "THROTTLED_KEY_BACKOFF", (0.0,) * len(provisioning.THROTTLED_KEY_BACKOFF))
    monkeypatch.setattr(tasks, "RETRY_BACKOFF", 0)  # an item is sent again at once: speed only
    throttles = settings.IAM_MAX_ATTEMPTS + 1
    rows = [_row("ann"), _row("bob")]
    with instant_retries():
        job = _faulty_run(
            operator_client, endpoint, proxy, rows,
            lambda: (
                proxy.add_fault("AddUserToGroup", user_name="ann", code="Throttling", times=throttles),
                proxy.add_fault("CreateAccessKey", user_name="bob", code="Throttling", times=throttles),
            ),
        )  # fmt: skip

    assert proxy.counts.injected == Counter({"AddUserToGroup": throttles, "CreateAccessKey": throttles})
    assert job.items.get(user_name="ann").status == Status.DONE
    bob = job.items.get(user_name="bob")
    assert (bob.status, bob.error_code) == (Status.DONE, ""), (
        f"bob: {bob.status} {bob.error_code} after {bob.attempts} runs; ann's AddUserToGroup survived "
        f"the same {throttles} throttles"
    )
    _assert_created_exactly(direct, job, rows, _credentials(operator_client, job))
