"""How fast bulk creation is: N users created three ways, at each added IAM latency, then the
import under IAM throttling and at 5,000 rows. One command, all of issue 15's figures.

Each user gets what a bulk-import row asks for: CreateUser with a tag, CreateLoginProfile,
AddUserToGroup (one pre-created group) and CreateAccessKey. The three ways:
  (a) a serial boto3 script;
  (b) a raw threaded boto3 script at --concurrency, one user per thread at a time: the
      backend's ceiling at the job's concurrency;
  (c) the console's import end to end: upload the CSV (dry run) → confirm → the job is done,
      with a Celery worker in a subprocess (`celery -A iamconsole worker --pool prefork
      --concurrency <--worker-processes>`, JOB_ITEM_THREADS=<--item-threads> IAM calls in flight
      per process) on Redis and PostgreSQL. At 0 ms, 5 browsers poll the job's progress JSON
      meanwhile, 1 s after each answer as the page does (RELIABILITY.md L4: latency, monotonic,
      ends at 100 %), then the session that confirmed it downloads the credentials CSV (L5:
      seconds to the last byte, every secret byte-exact against the one-time store, every key id
      the user's in IAM); the web side runs in this process (Django's test client): see
      bench/job_pages.py.
It prints users/s for each, and the ratios c/b and c/a; for each way the CPU time per user of
each group of processes (moto, proxy, worker, PostgreSQL, Redis, this process) while it was
timed. Then, unless skipped:
  throttled  the import (c) of --throttled-users rows at 0 ms through the proxy in token-bucket
             mode (--throttle-rate requests/s, `Throttling` above it): its users/s against the
             bucket's user rate (the rate over the calls per user of the unthrottled (c) at
             0 ms), the rows not done, and the calls per user it sent (forwarded + throttled);
  confirm    the import of --confirm-users rows at 0 ms: the confirm POST's seconds and the
             worker's peak RSS (all its processes summed).
It prints each target of docs/PERFORMANCE.md and whether it is met, and as its last line
`RESULT {json}` (keys in docs/PERFORMANCE.md, "Bulk creation").

The moto server (`python -m users.iam.embedded`, no snapshot) and the proxy in front of it
(`python -m tests.iam_proxy --latency L [--rate R --burst B]`) run in their own processes.
Every run talks to IAM through the proxy, on the same URL, so all pay the same hop; each starts
from an emptied account (POST /moto-api/reset) holding one group, with its own user names
(bench-a-00001…). A latency of 0 leaves moto as it is: the machine's CPU, which moto, the
clients and in (c) the console share, is the limit, so c/b shows our own overhead; 0.05 stands
in for a real AWS region's round trip, where concurrency pays.

    .venv/bin/python bench/bulk_create.py                     # everything, 1,000 users (issue 15)
    .venv/bin/python bench/bulk_create.py --ways a,b --no-throttled --no-confirm   # the scripts
    .venv/bin/python bench/bulk_create.py --ways c --latency 0 --no-confirm        # (c), throttled
    .venv/bin/python bench/bulk_create.py --ways none --no-throttled               # 5,000 rows
    .venv/bin/python bench/bulk_create.py --users 100 --throttled-users 60 --confirm-users 500

(c) needs Redis (database 9, flushed at each run: --redis-url) and PostgreSQL (database
benchbulk, created if missing: --database-url).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from job_pages import CredentialsCsv, Progress, ProgressPollers, download_credentials, keys_not_in_iam
from process_usage import Ours, PeakMemory, cpu_snapshot, cpu_used, proc_kib, process_tree
from services import ProxyCounts, Service, free_port, iam_proxy

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GROUP = "bench-group"
TAG = {"Key": "team", "Value": "bench"}
IMPORT_HEADER = (
    "user_name,path,groups,policies,permissions_boundary,tags,console_access,"
    "password_reset_required,programmatic_access"
)
TARGET_LATENCY = 0.05  # a real AWS region's round trip
TARGET_C_OVER_B = {0.0: 0.8, TARGET_LATENCY: 1.0}  # by latency
TARGET_C_OVER_A = 8.0  # at TARGET_LATENCY
TARGET_CPU_OVER_BOTO3 = 2.0  # console (worker + PostgreSQL + Redis) over (b)'s own, per user
TARGET_THROTTLED_RATIO = 0.9  # users/s over the bucket's user rate
TARGET_THROTTLED_CALLS = 1.5  # calls per user sent, over the unthrottled count
TARGET_CONFIRM_SECONDS = 1.0
TARGET_WORKER_RSS_MIB = 400.0
TARGET_PROGRESS_P95_MS = 200.0  # RELIABILITY.md L4
TARGET_CREDENTIALS_CSV_SECONDS = 2.0  # L5
PROGRESS_BROWSERS = 5  # polling the (c) import at 0 ms (L4)
STALL_SECONDS = 600  # an import with no row finished for this long is given up
CALLS_PER_USER = 4  # a row's IAM calls, when no unthrottled (c) at 0 ms ran to count them
WAYS = {"a": "serial boto3", "b": "threaded boto3", "c": "import job"}
REDIS_URL = "redis://127.0.0.1:6379/9"
DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/benchbulk"


@dataclass
class Result:
    """One way at one latency."""

    way: str
    latency: float
    users: int
    seconds: float
    calls: Counter[str] = field(default_factory=Counter)  # IAM calls that reached moto, by action
    details: dict[str, str] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds while timed, by process group
    progress: Progress | None = None  # what the browsers polling (c) at 0 ms saw
    credentials: CredentialsCsv | None = None  # its credentials CSV

    @property
    def rate(self) -> float:
        return self.users / self.seconds

    @property
    def calls_per_user(self) -> float:
        return sum(self.calls.values()) / self.users


@dataclass
class ImportRun:
    """One import (c): its steps' seconds, how many rows ended done, what it used."""

    users: int
    upload_seconds: float  # upload and dry run, until the plan page is shown
    confirm_seconds: float  # the confirm POST (creates the job, queues its work)
    job_seconds: float  # from the confirm's answer until no row is queued or running
    done: int
    not_done: list[tuple[str, str, str]]  # (user name, status, error code), a few
    worker_rss_mib: float  # peak, all the worker's processes summed
    details: dict[str, str]
    cpu: dict[str, float]
    job_id: UUID
    progress: Progress | None  # when browsers polled it

    @property
    def seconds(self) -> float:
        return self.upload_seconds + self.confirm_seconds + self.job_seconds

    @property
    def failed_rows(self) -> int:
        return self.users - self.done


@dataclass
class ThrottledRun:
    """The import (c) at 0 ms through the proxy's token bucket."""

    run: ImportRun
    rate_limit: float  # requests/s
    burst: float
    calls: Counter[str]  # forwarded to moto, by action
    throttled: Counter[str]  # answered `Throttling` by the proxy, by action
    reference_calls_per_user: float  # of the unthrottled (c) at 0 ms (or CALLS_PER_USER)
    reference_measured: bool

    @property
    def rate(self) -> float:
        """Users/s of the job (confirm → done), as the bucket limits the job's calls."""
        return self.run.users / self.run.job_seconds

    @property
    def bucket_user_rate(self) -> float:
        return self.rate_limit / self.reference_calls_per_user

    @property
    def ratio(self) -> float:
        return self.rate / self.bucket_user_rate

    @property
    def calls_per_user(self) -> float:
        """Calls sent per user: forwarded and throttled."""
        return (sum(self.calls.values()) + sum(self.throttled.values())) / self.run.users

    @property
    def calls_ratio(self) -> float:
        return self.calls_per_user / self.reference_calls_per_user


@dataclass
class Runs:
    """What one command measured: each way at each latency, then the two imports (None: skipped)."""

    results: list[Result]
    throttled: ThrottledRun | None
    confirm: ImportRun | None


# --- IAM --------------------------------------------------------------------------------------


def iam_client(url: str, concurrency: int = 1) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard"}, max_pool_connections=max(10, concurrency))
    return boto3.client(
        "iam",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=config,
    )


def empty_account(moto_url: str) -> None:
    """Reset moto (every backend), then create the one group; its first call rebuilds the IAM
    backend (1,580 managed policies), outside any timing."""
    request = urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=120):
        pass
    iam_client(moto_url).create_group(GroupName=GROUP)


def user_name(way: str, number: int) -> str:
    return f"bench-{way}-{number:05d}"


def password() -> str:
    return secrets.token_urlsafe(15) + "aA1!"  # meets IAM's default policy


class CreateUserRetries:
    """CreateUser calls sent again after moto answered an HTML 500 (see `create_user`)."""

    def __init__(self) -> None:
        self._lock, self.count = threading.Lock(), 0

    def add(self) -> None:
        with self._lock:
            self.count += 1


CREATE_USER_RETRIES = CreateUserRetries()


def create_user(iam: Any, name: str) -> None:
    """CreateUser with one tag. The embedded server's case-insensitive name check iterates the
    users dict while other threads add to it, so under concurrency it sometimes fails with
    "dictionary changed size during iteration": an HTML 500, which botocore neither parses nor
    retries. That failure comes before the user is created: send it again, and count it."""
    from botocore.parsers import ResponseParserError

    for attempt in range(5):
        try:
            iam.create_user(UserName=name, Tags=[TAG])
            return
        except ResponseParserError:
            if attempt == 4:
                raise
            CREATE_USER_RETRIES.add()


def create_one(iam: Any, name: str) -> None:
    """What one import row asks for, as a plain script does it."""
    create_user(iam, name)
    iam.create_login_profile(UserName=name, Password=password(), PasswordResetRequired=False)
    iam.add_user_to_group(GroupName=GROUP, UserName=name)
    iam.create_access_key(UserName=name)


def run_serial(url: str, users: int, concurrency: int) -> float:
    iam = iam_client(url)
    start = time.perf_counter()
    for number in range(1, users + 1):
        create_one(iam, user_name("a", number))
    return time.perf_counter() - start


def run_threaded(url: str, users: int, concurrency: int) -> float:
    iam = iam_client(url, concurrency)  # boto3 clients are thread-safe
    names = [user_name("b", number) for number in range(1, users + 1)]
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for _ in pool.map(lambda name: create_one(iam, name), names):
            pass
    return time.perf_counter() - start


def check_created(moto_url: str, way: str, users: int) -> None:
    """Exactly `users` users of this way, and (on a sample) each with one key and the group."""
    iam = iam_client(moto_url)
    names = [
        user["UserName"]
        for page in iam.get_paginator("list_users").paginate()
        for user in page["Users"]
        if user["UserName"].startswith(f"bench-{way}-")
    ]
    if len(names) != users:
        raise SystemExit(f"({way}) created {len(names)} users, not {users}")
    for name in names[:: max(1, users // 10)]:
        keys = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
        groups = [group["GroupName"] for group in iam.list_groups_for_user(UserName=name)["Groups"]]
        if len(keys) != 1 or groups != [GROUP]:
            raise SystemExit(f"({way}) {name} has {len(keys)} keys and groups {groups}")


# --- (c): the console's import, end to end ------------------------------------------------------


def import_csv(users: int) -> bytes:
    out = io.StringIO()
    out.write(IMPORT_HEADER + "\n")
    writer = csv.writer(out, lineterminator="\n")
    for number in range(1, users + 1):
        writer.writerow([user_name("c", number), "/", GROUP, "", "", "team=bench", "yes", "no", "yes"])
    return out.getvalue().encode()


class Console:
    """The web side in this process (Django's test client), a Celery worker in a subprocess
    (`processes` prefork children, each with `item_threads` IAM calls in flight), on a Redis
    database and a PostgreSQL database of the bench's own; IAM at the proxy's URL."""

    def __init__(
        self, iam_url: str, work: Path, redis_url: str, database_url: str, processes: int, item_threads: int
    ) -> None:
        self.work, self.redis_url, self.database_url = work, redis_url, database_url
        self.processes, self.item_threads = processes, item_threads
        self.database = database_url.rsplit("/", 1)[1]
        state = work / "state"
        state.mkdir()
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "iamconsole.settings",
            "IAM_BACKEND": "endpoint",
            "IAM_ENDPOINT_URL": iam_url,
            "REDIS_URL": redis_url,
            "DATABASE_URL": database_url,
            "IAMCONSOLE_STATE_DIR": str(state),
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            # Shared by web and workers (the one-time store): set, not generated by each.
            "SECRET_KEY": secrets.token_urlsafe(50),
            "CREDENTIALS_KEY": secrets.token_urlsafe(50),
            "LOG_LEVEL": "WARNING",
            "JOB_ITEM_THREADS": str(item_threads),
            # The CPU priority of the web, the IAM backend and (b)'s script: c/b compares like with like.
            "WORKER_NICE": "0",
        }
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "CELERY_BROKER_URL"):
            self.env.pop(name, None)

    def setup(self) -> None:
        """Create the database if needed, migrate it, set Django up here, sign an operator in."""
        self._create_database()
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "--verbosity", "0", "--skip-checks"],
            cwd=ROOT, env=self.env, check=True,
        )  # fmt: skip
        os.environ.update(self.env)
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "CELERY_BROKER_URL"):
            os.environ.pop(name, None)
        import django

        # STATIC_ROOT is not built for the bench; WhiteNoise serves from the finders anyway.
        warnings.filterwarnings("ignore", message="No directory at")
        django.setup()
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group
        from django.test import Client

        from users.models import Job
        from users.roles import OPERATORS

        # A run stopped half-way leaves its jobs' items queued: the sweeper of the next run's
        # workers would run them against its IAM.
        Job.objects.all().delete()
        self.operator, _ = get_user_model().objects.get_or_create(username="bench-operator")
        self.operator.groups.add(Group.objects.get(name=OPERATORS))
        self.client = Client(HTTP_HOST="localhost")
        self.client.force_login(self.operator)

    def browsers(self, count: int) -> list[Any]:
        """`count` new sessions of the operator (test clients)."""
        from django.test import Client

        clients = [Client(HTTP_HOST="localhost") for _ in range(count)]
        for client in clients:
            client.force_login(self.operator)
        return clients

    def _create_database(self) -> None:
        import psycopg
        from psycopg import sql

        name = self.database
        admin_url = self.database_url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin_url, autocommit=True) as connection:
            if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    @contextlib.contextmanager
    def workers(self) -> Iterator[subprocess.Popen[bytes]]:
        """The Celery worker, ready: it ran a probe task."""
        from django.core.cache import cache

        from users.tasks import probe

        log = (self.work / "worker.log").open("a")
        command = [
            str(Path(sys.executable).with_name("celery")), "-A", "iamconsole", "worker",
            "--pool", "prefork", "--concurrency", str(self.processes),
            "--without-gossip", "--without-mingle", "-Q", "celery", "--loglevel", "WARNING",
        ]  # fmt: skip
        worker = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=log, start_new_session=True)
        try:
            key = f"bench-probe-{secrets.token_hex(8)}"
            probe.delay(key)
            deadline = time.monotonic() + 120
            while cache.get(key) is None:
                if worker.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the Celery worker did not start; see {log.name}")
                time.sleep(0.2)
            yield worker
        finally:
            worker.send_signal(signal.SIGTERM)  # warm shutdown
            try:
                worker.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
            log.close()

    def flush_redis(self) -> None:
        import redis

        redis.Redis.from_url(self.redis_url).flushdb()

    def run_import(self, users: int, browsers: int = 0) -> ImportRun:
        """Upload → dry run → confirm → no row queued or running; `browsers` poll its progress
        meanwhile (their CPU in this process is taken off the run's)."""
        from django.urls import reverse

        self.flush_redis()  # no queued message, cached users index or sweeper chain from a past run
        data = import_csv(users)
        pollers = ProgressPollers(self.browsers(browsers)) if browsers else None
        with self.workers() as worker:
            memory = PeakMemory({"web": lambda: [os.getpid()], "worker": lambda: process_tree(worker.pid)})
            web_before = proc_kib(os.getpid(), "status", "VmRSS") / 1024
            memory.start()
            ours = Ours(self.database, frozenset(process_tree(worker.pid)))
            cpu_before = cpu_snapshot(ours)
            start = time.perf_counter()
            plan_url = self._upload(data)
            planned = time.perf_counter()
            response = self.client.post(reverse("users:import_confirm", kwargs=_kwargs(plan_url)))
            confirmed = time.perf_counter()
            job_url = _redirect(response, "users:job_detail", "confirming the import")
            job_id = _kwargs(job_url)["job_id"]
            if pollers:
                pollers.start(job_id)
            rows_done = self._wait_for(job_id)
            done = time.perf_counter()
            if pollers:
                pollers.end_timing()
            polling = pollers.backend_pids() if pollers else frozenset()
            cpu = cpu_used(cpu_before, Ours(self.database, frozenset(process_tree(worker.pid)), polling))
            memory.stop()
            progress = pollers.finish() if pollers else None
        details = {
            "web memory": f"{web_before:.0f} MiB before, {memory.describe('web')}",
            "worker memory": memory.describe("worker"),
        }
        if progress:  # the pollers' CPU is not the job's
            cpu["bench"] = max(0.0, cpu.get("bench", 0.0) - progress.cpu_seconds)
            backends = cpu.pop("pollers", 0.0)
            details["progress pollers' CPU, not counted"] = f"{progress.cpu_seconds:.2f} s, PostgreSQL {backends:.2f} s"
        return ImportRun(
            users=users,
            upload_seconds=planned - start,
            confirm_seconds=confirmed - planned,
            job_seconds=done - confirmed,
            done=rows_done,
            not_done=self._not_done(job_id),
            worker_rss_mib=memory.peak_rss["worker"],
            details=details,
            cpu=cpu,
            job_id=job_id,
            progress=progress,
        )

    def credentials_csv(self, run: ImportRun) -> CredentialsCsv:
        """The run's credentials CSV through the session that confirmed it, checked against the store."""
        names = [user_name("c", number) for number in range(1, run.users + 1)]
        return download_credentials(self.client, run.job_id, self.operator.pk, names)

    def _upload(self, data: bytes) -> str:
        """Upload the CSV; the form validates it and redirects to the dry run's plan, which is
        then shown as the operator sees it. The plan's URL."""
        from django.core.files.uploadedfile import SimpleUploadedFile
        from django.urls import reverse

        upload = SimpleUploadedFile("users.csv", data, content_type="text/csv")
        response = self.client.post(reverse("users:import"), {"file": upload})
        plan_url = _redirect(response, "users:import_plan", "uploading the CSV")
        response = self.client.get(plan_url)
        if response.status_code != 200:
            raise SystemExit(f"(c) the import plan page answered {response.status_code}")
        return plan_url

    @staticmethod
    def _wait_for(job_id: UUID) -> int:
        """The rows done once none is queued or running, or once none has finished for
        STALL_SECONDS; progress on stderr every 15 s."""
        from users import jobs
        from users.models import Job

        job = Job.objects.get(pk=job_id)
        last_report = progressed = time.perf_counter()
        processed = 0
        while not (counts := jobs.job_counts(job)).is_finished:
            now = time.perf_counter()
            if counts.processed != processed:
                processed, progressed = counts.processed, now
            elif now - progressed >= STALL_SECONDS:
                print(f"    (c) no row finished in {STALL_SECONDS} s: stopped waiting", file=sys.stderr)
                break
            if now - last_report >= 15:
                print(f"    (c) {counts.processed}/{counts.total} users processed", file=sys.stderr)
                last_report = now
            time.sleep(0.2)
        return counts.done

    @staticmethod
    def _not_done(job_id: UUID) -> list[tuple[str, str, str]]:
        from users.models import JobItem

        rows = JobItem.objects.filter(job_id=job_id).exclude(status=JobItem.Status.DONE)
        return list(rows.values_list("user_name", "status", "error_code")[:5])


def _kwargs(url: str) -> dict[str, Any]:
    from django.urls import resolve

    return resolve(url.split("?")[0]).kwargs


def _redirect(response: Any, url_name: str, doing: str) -> str:
    """The redirect's target, which must be the view `url_name`."""
    from django.urls import Resolver404, resolve

    location = response.headers.get("Location", "") if response.status_code in (301, 302, 303) else ""
    try:
        match = resolve(location.split("?")[0]) if location else None
    except Resolver404:
        match = None
    if match is None or match.view_name != url_name:
        raise SystemExit(f"(c) {doing} answered {response.status_code} {location!r}, not a redirect to {url_name}")
    return location


# --- The run ----------------------------------------------------------------------------------


def moto_errors(log: Path) -> int:
    """The requests moto failed with a 500 so far (werkzeug logs each one)."""
    return log.read_text().count("Error on request")


class Bench:
    """What every run shares: the moto server, the proxy's port, the console (None without any
    import to run), the logs' directory."""

    def __init__(
        self, args: argparse.Namespace, work: Path, moto: Service, proxy_port: int, console: Console | None
    ) -> None:
        self.args, self.work, self.moto, self.proxy_port = args, work, moto, proxy_port
        self._console = console
        self.database = args.database_url.rsplit("/", 1)[1]

    @property
    def console(self) -> Console:
        assert self._console is not None, "set up when an import is to run"
        return self._console

    @contextlib.contextmanager
    def proxy(
        self, name: str, latency: float, rate: float | None = None, burst: float | None = None
    ) -> Iterator[Callable[[], tuple[ProxyCounts, dict[str, str]]]]:
        """A run's fresh start: an emptied account behind a new proxy. Yields a function that
        stops the proxy and returns its counts, and notes on what failed on the way."""
        empty_account(self.moto.url)
        errors_before = moto_errors(self.moto.log)
        log = self.work / f"proxy-{name}.log"
        with iam_proxy(self.moto.url, self.proxy_port, latency, log, rate, burst) as stop_proxy:

            def stop() -> tuple[ProxyCounts, dict[str, str]]:
                counts, notes = stop_proxy(), {}
                if CREATE_USER_RETRIES.count:
                    notes["CreateUser sent again after a moto 500"] = str(CREATE_USER_RETRIES.count)
                    CREATE_USER_RETRIES.count = 0
                if errors := moto_errors(self.moto.log) - errors_before:
                    notes["moto 500s (see moto.log)"] = str(errors)
                return counts, notes

            yield stop

    def way(self, way: str, latency: float) -> Result:
        users = self.args.users
        print(f"  ({way}) {WAYS[way]}, latency {latency * 1000:.0f} ms…", file=sys.stderr)
        with self.proxy(f"{way}-{latency}", latency) as stop:
            details: dict[str, str] = {}
            progress: Progress | None = None
            credentials: CredentialsCsv | None = None
            if way in ("a", "b"):
                ours = Ours(self.database)
                cpu_before = cpu_snapshot(ours)
                script = run_serial if way == "a" else run_threaded
                seconds = script(self.proxy_url, users, self.args.concurrency)
                cpu = cpu_used(cpu_before, ours)
            else:
                run = self.console.run_import(users, PROGRESS_BROWSERS if latency == 0 else 0)
                if run.failed_rows:
                    raise SystemExit(f"(c) {run.done} of {users} users done; e.g. {run.not_done}")
                seconds, cpu, progress = run.seconds, run.cpu, run.progress
                details = {**import_steps(run), **run.details}
                credentials = self.console.credentials_csv(run) if progress else None
            counts, notes = stop()
        check_created(self.moto.url, way, users)
        if credentials:
            credentials.problems += keys_not_in_iam(iam_client(self.moto.url, 8), credentials.keys)
        calls = counts.get("forwarded", Counter())
        result = Result(way, latency, users, seconds, calls, details | notes, cpu, progress, credentials)
        print(f"  ({way}) {result.rate:.1f} users/s", file=sys.stderr)
        return result

    def throttled(self, reference: Result | None) -> ThrottledRun:
        """The import at 0 ms through the token bucket; `reference` is the unthrottled (c) at 0 ms."""
        args = self.args
        rate, burst = args.throttle_rate, args.throttle_burst or args.throttle_rate
        print(
            f"  (c) {WAYS['c']}, {args.throttled_users} users, throttled at {rate:g} requests/s (burst {burst:g})…",
            file=sys.stderr,
        )
        with self.proxy("throttled", 0.0, rate, burst) as stop:
            run = self.console.run_import(args.throttled_users)
            counts, notes = stop()
        run.details.update(notes)
        if not run.failed_rows:
            check_created(self.moto.url, "c", run.users)
        result = ThrottledRun(
            run=run,
            rate_limit=rate,
            burst=burst,
            calls=counts.get("forwarded", Counter()),
            throttled=counts.get("throttled", Counter()),
            reference_calls_per_user=reference.calls_per_user if reference else CALLS_PER_USER,
            reference_measured=reference is not None,
        )
        print(f"  (throttled) {result.rate:.1f} users/s, {run.failed_rows} rows not done", file=sys.stderr)
        return result

    def confirm(self) -> ImportRun:
        """The import of --confirm-users rows at 0 ms: the confirm's time, the worker's memory."""
        users = self.args.confirm_users
        print(f"  (c) {WAYS['c']}, {users} users, latency 0 ms…", file=sys.stderr)
        with self.proxy("confirm", 0.0) as stop:
            run = self.console.run_import(users)
            counts, notes = stop()
        calls = sum(counts.get("forwarded", Counter()).values())
        run.details |= {"IAM calls": f"{calls} ({calls / users:.2f} per user)", **notes}
        if not run.failed_rows:
            check_created(self.moto.url, "c", users)
        print(f"  (confirm) {run.confirm_seconds:.2f} s, {run.failed_rows} rows not done", file=sys.stderr)
        return run

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"


def import_steps(run: ImportRun) -> dict[str, str]:
    return {
        "upload + dry run": f"{run.upload_seconds:.1f} s",
        "confirm": f"{run.confirm_seconds:.2f} s",
        "job": f"{run.job_seconds:.1f} s",
    }


def run(args: argparse.Namespace) -> Runs:
    work = Path(tempfile.mkdtemp(prefix="iamconsole-bench-bulk-"))
    print(f"logs in {work}", file=sys.stderr)
    proxy_port = free_port()
    console = None
    if "c" in args.ways or args.throttled or args.confirm:
        proxy_url = f"http://127.0.0.1:{proxy_port}"
        console = Console(proxy_url, work, args.redis_url, args.database_url, args.worker_processes, args.item_threads)
        console.setup()  # before (a) and (b): fail at once if (c) cannot run
    moto_command = [sys.executable, "-m", "users.iam.embedded", "--host", "127.0.0.1", "--port", "0"]
    moto = Service(moto_command, work / "moto.log")
    bench = Bench(args, work, moto, proxy_port, console)
    try:
        results = [bench.way(way, latency) for latency in args.latency for way in args.ways]
        reference = next((r for r in results if r.way == "c" and r.latency == 0), None)
        throttled = bench.throttled(reference) if args.throttled else None
        confirm = bench.confirm() if args.confirm else None
    finally:
        moto.stop()
    return Runs(results, throttled, confirm)


# --- The report -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    name: str
    value: float
    limit: float
    at_most: bool = False  # the value must be ≤ the limit (else ≥)

    @property
    def met(self) -> bool:
        return self.value <= self.limit if self.at_most else self.value >= self.limit

    def __str__(self) -> str:
        sign = "≤" if self.at_most else "≥"
        verdict = "met" if self.met else "NOT met"
        return f"{self.name}: {round(self.value, 2):g} (target {sign} {self.limit:g}) {verdict}"


def ms(latency: float) -> str:
    return f"{latency * 1000:.0f}ms"


def console_cpu_ms(result: Result) -> float:
    """Our own CPU per user in (c): the worker, PostgreSQL and Redis."""
    return 1000 * sum(result.cpu.get(group, 0.0) for group in ("worker", "postgres", "redis")) / result.users


def boto3_cpu_ms(result: Result) -> float:
    """The script's own CPU per user in (a) or (b): this process, where boto3 runs."""
    return 1000 * result.cpu.get("bench", 0.0) / result.users


def targets(runs: Runs) -> list[Target]:
    by_key = {(r.latency, r.way): r for r in runs.results}
    found: list[Target] = []
    for latency, limit in TARGET_C_OVER_B.items():
        c, b = by_key.get((latency, "c")), by_key.get((latency, "b"))
        if c and b:
            found.append(Target(f"c/b at {latency * 1000:.0f} ms", c.rate / b.rate, limit))
    c, a = by_key.get((TARGET_LATENCY, "c")), by_key.get((TARGET_LATENCY, "a"))
    if c and a:
        found.append(Target(f"c/a at {TARGET_LATENCY * 1000:.0f} ms", c.rate / a.rate, TARGET_C_OVER_A))
    c, b = by_key.get((0.0, "c")), by_key.get((0.0, "b"))
    if c and b:
        ratio = console_cpu_ms(c) / boto3_cpu_ms(b)
        found.append(Target("CPU per user at 0 ms, console (c) / boto3 (b)", ratio, TARGET_CPU_OVER_BOTO3, True))
    if c:
        found += job_page_targets(c)
    if throttled := runs.throttled:
        found += [
            Target("throttled: users/s / the bucket's user rate", throttled.ratio, TARGET_THROTTLED_RATIO),
            Target("throttled: rows not done", throttled.run.failed_rows, 0, True),
            Target("throttled: calls per user / unthrottled", throttled.calls_ratio, TARGET_THROTTLED_CALLS, True),
        ]
    if confirm := runs.confirm:
        rows = f"{confirm.users:,} rows"
        found += [
            Target(f"confirm of {rows}, s", confirm.confirm_seconds, TARGET_CONFIRM_SECONDS, True),
            Target(f"worker RSS during {rows}, MiB", confirm.worker_rss_mib, TARGET_WORKER_RSS_MIB, True),
            Target(f"{rows}: rows not done", confirm.failed_rows, 0, True),
        ]
    return found


def job_page_targets(c: Result) -> list[Target]:
    """L4 and L5, of the (c) import at 0 ms."""
    found = []
    if progress := c.progress:
        found += [
            Target(f"progress p95 during {c.users:,} users, ms", progress.p95_ms, TARGET_PROGRESS_P95_MS, True),
            Target("progress: polls where it went down", progress.decreases, 0, True),
            Target("progress: browsers not ending at 100 %", progress.not_ending_at_100, 0, True),
            Target("progress: failed polls", len(progress.errors), 0, True),
        ]
    if credentials := c.credentials:
        seconds, limit = credentials.seconds, TARGET_CREDENTIALS_CSV_SECONDS
        found += [
            Target(f"credentials CSV of {c.users:,} users, s", seconds, limit, True),
            Target("credentials CSV: rows not byte-exact or not in IAM", len(credentials.problems), 0, True),
        ]
    return found


def report(runs: Runs, args: argparse.Namespace) -> None:
    print("\neach user: CreateUser (1 tag), CreateLoginProfile, AddUserToGroup, CreateAccessKey")
    if "b" in args.ways:
        print(f"(b): {args.concurrency} threads")
    if "c" in args.ways or runs.throttled or runs.confirm:
        in_flight = args.worker_processes * args.item_threads
        print(
            f"worker: celery prefork, {args.worker_processes} processes × JOB_ITEM_THREADS={args.item_threads} "
            f"({in_flight} IAM calls in flight)"
        )
    if runs.results:
        print(f"\n{args.users} users:")
        report_ways(runs.results, args)
        if c := next((r for r in runs.results if r.way == "c" and r.latency == 0), None):
            report_job_pages(c)
    if runs.throttled:
        report_throttled(runs.throttled)
    if runs.confirm:
        print(f"\n{runs.confirm.users} users, latency 0 ms:")
        report_import(runs.confirm)
    checks = targets(runs)
    print("\ntargets:")
    for target in checks:
        print(f"  {target}")
    print(f"RESULT {json.dumps(summary(runs, args, checks))}")


def report_ways(results: list[Result], args: argparse.Namespace) -> None:
    by_key = {(r.latency, r.way): r for r in results}
    header = ["latency", *(f"({way}) {WAYS[way]}" for way in args.ways)]
    if "c" in args.ways:
        header += ["c/a", "c/b"]
    rows = []
    for latency in args.latency:
        row = [f"{latency * 1000:.0f} ms"]
        row += [f"{by_key[(latency, way)].rate:.1f} users/s" for way in args.ways]
        c = by_key.get((latency, "c"))
        for base in ("a", "b") if "c" in args.ways else ():
            other = by_key.get((latency, base))
            row.append(f"{c.rate / other.rate:.2f}" if c and other else "—")
        rows.append(row)
    widths = [max(len(str(line[i])) for line in [header, *rows]) for i in range(len(header))]
    for line in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
    print("\ndetails:")
    for result in results:
        calls = sum(result.calls.values())
        print(
            f"  ({result.way}) {result.latency * 1000:.0f} ms: {result.seconds:.1f} s, {result.rate:.1f} users/s, "
            f"{calls} IAM calls ({result.calls_per_user:.2f} per user) {dict(sorted(result.calls.items()))}"
        )
        for name, value in result.details.items():
            print(f"      {name}: {value}")
        print(f"      {describe_cpu(result.cpu, result.users, result.seconds)}")
    c, b = (next((r for r in results if r.latency == 0 and r.way == way), None) for way in "cb")
    if c and b:
        print(
            f"  CPU per user at 0 ms: console (worker + PostgreSQL + Redis) {console_cpu_ms(c):.1f} ms, "
            f"boto3 in (b) {boto3_cpu_ms(b):.1f} ms"
        )


def report_job_pages(c: Result) -> None:
    """What the browsers saw during (c) at 0 ms, and its credentials CSV."""
    if c.progress:
        print(f"\nprogress of (c) at 0 ms, {c.progress.describe()}")
    if c.credentials:
        print(f"credentials CSV of (c) at 0 ms, through the session that confirmed it:\n  {c.credentials.describe()}")


def report_throttled(throttled: ThrottledRun) -> None:
    run = throttled.run
    reference = "of the unthrottled (c) at 0 ms" if throttled.reference_measured else "assumed: no (c) at 0 ms ran"
    sent = sum(throttled.calls.values()) + sum(throttled.throttled.values())
    print(
        f"\n{run.users} users, latency 0 ms, throttled at {throttled.rate_limit:g} requests/s "
        f"(burst {throttled.burst:g}):\n"
        f"  job {throttled.rate:.1f} users/s; the bucket's user rate {throttled.bucket_user_rate:.2f} users/s "
        f"({throttled.reference_calls_per_user:.2f} calls per user, {reference}): ratio {throttled.ratio:.2f}\n"
        f"  {run.done} of {run.users} rows done{f', e.g. not {run.not_done}' if run.not_done else ''}\n"
        f"  {sent} IAM calls sent ({throttled.calls_per_user:.2f} per user, {throttled.calls_ratio:.2f} × "
        f"unthrottled): {sum(throttled.calls.values())} forwarded, {sum(throttled.throttled.values())} throttled "
        f"{dict(sorted(throttled.throttled.items()))}"
    )
    report_import(run)


def report_import(run: ImportRun) -> None:
    print(f"  {run.seconds:.1f} s, {run.done} of {run.users} rows done")
    for name, value in {**import_steps(run), **run.details}.items():
        print(f"      {name}: {value}")
    print(f"      {describe_cpu(run.cpu, run.users, run.seconds)}")


def describe_cpu(cpu: dict[str, float], users: int, seconds: float) -> str:
    groups = ", ".join(f"{group} {1000 * used / users:.1f}" for group, used in cpu.items())
    total = sum(cpu.values())
    busy = f"{total / seconds:.2f} of {os.cpu_count()} cores busy"
    return f"CPU per user: {1000 * total / users:.1f} ms ({groups}); {busy}"


def summary(runs: Runs, args: argparse.Namespace, checks: list[Target]) -> dict[str, Any]:
    """The RESULT line's object (docs/PERFORMANCE.md, "Bulk creation", says what each key is)."""
    out: dict[str, Any] = {
        "users": args.users,
        "concurrency_b": args.concurrency,
        "worker_processes": args.worker_processes,
        "item_threads": args.item_threads,
    }
    by_key = {(r.latency, r.way): r for r in runs.results}
    for result in runs.results:
        key = f"{result.way}_{ms(result.latency)}"
        out[f"users_per_s_{key}"] = round(result.rate, 2)
        out[f"calls_per_user_{key}"] = round(result.calls_per_user, 3)
        out[f"cpu_per_user_ms_{key}"] = round(1000 * sum(result.cpu.values()) / result.users, 2)
    for latency in args.latency:
        c = by_key.get((latency, "c"))
        for base in "ba":
            if c and (other := by_key.get((latency, base))):
                out[f"c{base}_{ms(latency)}"] = round(c.rate / other.rate, 3)
    c, b = by_key.get((0.0, "c")), by_key.get((0.0, "b"))
    if c and b:
        out["console_cpu_per_user_ms"] = round(console_cpu_ms(c), 2)
        out["boto3_cpu_per_user_ms"] = round(boto3_cpu_ms(b), 2)
        out["cpu_ratio"] = round(console_cpu_ms(c) / boto3_cpu_ms(b), 3)
    if c and (progress := c.progress):
        out |= {
            "progress_polls": len(progress.latencies_ms),
            "progress_p50_ms": round(progress.p50_ms, 1),
            "progress_p95_ms": round(progress.p95_ms, 1),
            "progress_max_ms": round(progress.max_ms, 1),
            "progress_failed_polls": len(progress.errors),
            "progress_monotonic": progress.monotonic,
            "progress_ends_at_100": progress.ends_at_100,
        }
    if c and (credentials := c.credentials):
        out[f"credentials_csv_{c.users}_s"] = round(credentials.seconds, 3)
        out["credentials_csv_exact"] = credentials.exact
    if throttled := runs.throttled:
        out |= {
            "throttled_users": throttled.run.users,
            "throttle_rate": throttled.rate_limit,
            "throttle_burst": throttled.burst,
            "throttled_users_per_s": round(throttled.rate, 2),
            "throttled_bucket_user_rate": round(throttled.bucket_user_rate, 3),
            "throttled_ratio": round(throttled.ratio, 3),
            "throttled_failed_rows": throttled.run.failed_rows,
            "throttled_requests": sum(throttled.throttled.values()),
            "throttled_calls_per_user": round(throttled.calls_per_user, 3),
            "throttled_calls_ratio": round(throttled.calls_ratio, 3),
            "unthrottled_calls_per_user": round(throttled.reference_calls_per_user, 3),
        }
    if confirm := runs.confirm:
        rows = confirm.users
        out |= {
            f"dry_run_{rows}_s": round(confirm.upload_seconds, 2),
            f"confirm_{rows}_s": round(confirm.confirm_seconds, 3),
            f"job_{rows}_s": round(confirm.job_seconds, 1),
            f"worker_rss_mib_{rows}": round(confirm.worker_rss_mib, 1),
            f"failed_rows_{rows}": confirm.failed_rows,
        }
    out["targets"] = {target.name: target.met for target in checks}
    out["all_targets_met"] = all(target.met for target in checks)
    return out


def latencies(values: list[str] | None) -> list[float]:
    if not values:
        return [0.0, TARGET_LATENCY]
    return [float(value) for item in values for value in item.split(",") if value.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1000, help="of each way at each latency")
    parser.add_argument(
        "--latency", action="append", metavar="SECONDS",
        help="seconds added to every IAM call; repeat it or give a list (default: 0,0.05)",
    )  # fmt: skip
    parser.add_argument("--ways", default="a,b,c", help="a list of a, b, c, or none (default: all three)")
    parser.add_argument("--concurrency", type=int, default=8, help="threads of (b)")
    parser.add_argument("--worker-processes", type=int, default=2, help="prefork processes of the Celery worker")
    parser.add_argument("--item-threads", type=int, default=8, help="JOB_ITEM_THREADS: IAM calls in flight per process")
    parser.add_argument("--throttled-users", type=int, default=300, help="rows of the throttled import")
    parser.add_argument("--throttle-rate", type=float, default=20.0, help="the proxy's bucket, requests/s")
    parser.add_argument("--throttle-burst", type=float, help="the bucket's capacity (default: the rate)")
    parser.add_argument("--no-throttled", dest="throttled", action="store_false", help="skip the throttled import")
    parser.add_argument("--confirm-users", type=int, default=5000, help="rows of the import timed for confirm")
    parser.add_argument("--no-confirm", dest="confirm", action="store_false", help="skip that import")
    parser.add_argument("--redis-url", default=REDIS_URL, help="for (c); this database is flushed")
    parser.add_argument("--database-url", default=DATABASE_URL, help="for (c); created if missing")
    args = parser.parse_args()
    args.latency = latencies(args.latency)
    args.ways = [way.strip() for way in args.ways.split(",") if way.strip() and way.strip() != "none"]
    if set(args.ways) - set(WAYS):
        parser.error("--ways takes a list of a, b, c, or none")
    report(run(args), args)


if __name__ == "__main__":
    main()
