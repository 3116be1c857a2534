"""How fast bulk creation is: N users created three ways, at each added IAM latency.

Each user gets what a bulk-import row asks for: CreateUser with a tag, CreateLoginProfile,
AddUserToGroup (one pre-created group) and CreateAccessKey. The three ways:
  (a) a serial boto3 script;
  (b) a raw threaded boto3 script at --concurrency, one user per thread at a time: the
      backend's ceiling at the job's concurrency;
  (c) the console's import end to end: upload the CSV (dry run) → confirm → the job is done,
      with Celery workers (prefork, --concurrency) in subprocesses on Redis and PostgreSQL.
It prints users/s for each, and the ratios c/a and c/b against their targets (c/b ≥ 0.8 at
every latency, c/a ≥ 4 at 50 ms). For (c) also the dry run's time and the peak memory of the
web side (this process) and of the workers; for each way, the CPU time per user of each group
of processes (moto, proxy, workers, PostgreSQL, Redis, this process) while it was timed.

The moto server (`python -m users.iam.embedded`, no snapshot) and the delaying proxy in front of it
(`python -m tests.iam_proxy --latency L`) run in their own processes. Every way talks to IAM
through the proxy, on the same URL, so all pay the same hop; each way starts from an emptied
account (POST /moto-api/reset) holding one group, with its own user names (bench-a-00001…).
A latency of 0 leaves moto as it is: the machine's CPU, which moto, the clients and in (c) the
console share, is the limit, so c/b shows our own overhead; 0.05 stands in for a real AWS
region's round trip, where concurrency pays.

    .venv/bin/python bench/bulk_create.py --ways a,b                    # 1,000 users, 0 and 50 ms
    .venv/bin/python bench/bulk_create.py                               # all three ways
    .venv/bin/python bench/bulk_create.py --users 5000 --ways c --latency 0   # dry run, memory

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
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

from users import jobs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GROUP = "bench-group"
TAG = {"Key": "team", "Value": "bench"}
IMPORT_HEADER = (
    "user_name,path,groups,policies,permissions_boundary,tags,console_access,"
    "password_reset_required,programmatic_access"
)
TARGET_C_OVER_B = 0.8
TARGET_C_OVER_A = 4.0  # with the added latency
TARGET_LATENCY = 0.05
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

    @property
    def rate(self) -> float:
        return self.users / self.seconds


# --- Processes ------------------------------------------------------------------------------


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


@contextlib.contextmanager
def iam_proxy(moto_url: str, port: int, latency: float, log: Path) -> Iterator[Callable[[], Counter[str]]]:
    """The delaying proxy on `port` for one way; yields a function that stops it and returns the
    IAM calls it forwarded, by action (it prints them as it stops)."""
    command = [sys.executable, "-m", "tests.iam_proxy", "--upstream", moto_url, "--port", str(port)]
    service = Service([*command, "--latency", str(latency)], log)
    calls: Counter[str] = Counter()

    def stop() -> Counter[str]:
        if service.process.poll() is None:
            service.stop()
            lines = [line for line in log.read_text().splitlines() if line.startswith("IAM proxy counts: ")]
            if lines:
                calls.update(json.loads(lines[-1].partition(": ")[2])["forwarded"])
        return calls

    try:
        yield stop
    finally:
        stop()


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


def _proc_kib(pid: int, path: str, field_name: str) -> int:
    try:
        with open(f"/proc/{pid}/{path}") as file:
            for line in file:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def process_tree(root: int) -> list[int]:
    """`root` and its descendants (a Celery worker and its prefork children)."""
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as file:
                    todo += [int(child) for child in file.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            pass
    return pids


class PeakMemory(threading.Thread):
    """Samples, every `interval` s, the RSS and PSS (RSS with shared pages split between their
    sharers: prefork children share much with their parent) summed over each group of
    processes, and keeps the peaks. Read from /proc; in MiB."""

    def __init__(self, groups: dict[str, Callable[[], list[int]]], interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.groups, self.interval = groups, interval
        self.peak_rss = dict.fromkeys(groups, 0.0)
        self.peak_pss = dict.fromkeys(groups, 0.0)
        self.peak_process_rss = dict.fromkeys(groups, 0.0)
        self._stopping = threading.Event()

    def run(self) -> None:
        while True:
            self.sample()
            if self._stopping.wait(self.interval):
                self.sample()
                return

    def sample(self) -> None:
        for group, find_pids in self.groups.items():
            pids = find_pids()
            rss = [_proc_kib(pid, "status", "VmRSS") / 1024 for pid in pids]
            pss = sum(_proc_kib(pid, "smaps_rollup", "Pss") / 1024 for pid in pids)
            self.peak_rss[group] = max(self.peak_rss[group], sum(rss))
            self.peak_pss[group] = max(self.peak_pss[group], pss)
            self.peak_process_rss[group] = max(self.peak_process_rss[group], max(rss, default=0.0))

    def stop(self) -> None:
        self._stopping.set()
        self.join()

    def describe(self, group: str) -> str:
        return (
            f"peak {self.peak_rss[group]:.0f} MiB RSS summed ({self.peak_pss[group]:.0f} MiB PSS), "
            f"largest process {self.peak_process_rss[group]:.0f} MiB"
        )


CPU_GROUPS = (  # (group, what its processes' command lines contain), the first match wins
    ("moto", "users.iam.embedded"),
    ("proxy", "tests.iam_proxy"),
    ("worker", "celery"),
    ("postgres", "postgres"),
    ("redis", "redis-server"),
)
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def cpu_snapshot() -> dict[tuple[int, int], tuple[str, int]]:
    """Every process's CPU time so far (user + system, in clock ticks), keyed by pid and start
    time, with its group: CPU_GROUPS by command line, "bench" for this process (the web side in
    (c), the boto3 clients in (a) and (b)), "other" for the rest of the machine."""
    snapshot = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as file:
                stat = file.read()
            with open(f"/proc/{entry}/cmdline", "rb") as file:
                command = file.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        ticks, started = int(fields[11]) + int(fields[12]), int(fields[19])
        pid = int(entry)
        group = (
            "bench" if pid == os.getpid() else next((name for name, marker in CPU_GROUPS if marker in command), "other")
        )
        snapshot[(pid, started)] = (group, ticks)
    return snapshot


def cpu_used(before: dict[tuple[int, int], tuple[str, int]]) -> dict[str, float]:
    """CPU seconds by group since `before` (a process that ended meanwhile is not counted)."""
    used: Counter[str] = Counter()
    for key, (group, ticks) in cpu_snapshot().items():
        used[group] += ticks - before.get(key, (group, 0))[1]
    return {group: ticks / TICKS_PER_SECOND for group, ticks in used.most_common()}


class Console:
    """The web side in this process (Django's test client), workers in subprocesses, on Redis
    database 9 and a PostgreSQL database of the bench's own; IAM at the proxy's URL."""

    def __init__(self, iam_url: str, work: Path, redis_url: str, database_url: str) -> None:
        self.work, self.redis_url, self.database_url = work, redis_url, database_url
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

        from users.roles import OPERATORS

        operator, _ = get_user_model().objects.get_or_create(username="bench-operator")
        operator.groups.add(Group.objects.get(name=OPERATORS))
        self.client = Client(HTTP_HOST="localhost")
        self.client.force_login(operator)

    def _create_database(self) -> None:
        import psycopg
        from psycopg import sql

        name = self.database_url.rsplit("/", 1)[1]
        admin_url = self.database_url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin_url, autocommit=True) as connection:
            if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    @contextlib.contextmanager
    def workers(self, concurrency: int) -> Iterator[subprocess.Popen[bytes]]:
        """A Celery worker (prefork, `concurrency` children), ready: it ran a probe task."""
        from django.core.cache import cache

        from users.tasks import probe

        log = (self.work / "worker.log").open("a")
        command = [
            str(Path(sys.executable).with_name("celery")), "-A", "iamconsole", "worker",
            "--concurrency", str(concurrency), "--pool", "prefork",
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

    def run_import(self, users: int, concurrency: int) -> tuple[float, dict[str, str], dict[str, float]]:
        """Upload → dry run → confirm → done; the seconds it took, the details, the CPU used."""
        from django.core.files.uploadedfile import SimpleUploadedFile
        from django.urls import resolve, reverse

        from users.models import Job

        self.flush_redis()  # no queued message, cached users index or sweeper chain from a past run
        data = import_csv(users)
        with self.workers(concurrency) as worker:
            memory = PeakMemory({"web": lambda: [os.getpid()], "worker": lambda: process_tree(worker.pid)})
            web_before = _proc_kib(os.getpid(), "status", "VmRSS") / 1024
            memory.start()
            cpu_before = cpu_snapshot()
            start = time.perf_counter()

            # Upload: the form validates the file and redirects to the dry run's plan.
            upload = SimpleUploadedFile("users.csv", data, content_type="text/csv")
            response = self.client.post(reverse("users:import"), {"file": upload})
            plan_url = _redirect(response, "users:import_plan", "uploading the CSV")
            response = self.client.get(plan_url)  # the dry run's result, as the operator sees it
            if response.status_code != 200:
                raise SystemExit(f"(c) the import plan page answered {response.status_code}")
            planned = time.perf_counter()

            response = self.client.post(reverse("users:import_confirm", kwargs=resolve(plan_url).kwargs))
            job_url = _redirect(response, "users:job_detail", "confirming the import")
            job = Job.objects.get(pk=resolve(job_url).kwargs["job_id"])
            confirmed = time.perf_counter()

            last_report = confirmed
            while not (counts := jobs.job_counts(job)).is_finished:
                if time.perf_counter() - last_report >= 15:
                    print(f"    (c) {counts.processed}/{counts.total} users processed", file=sys.stderr)
                    last_report = time.perf_counter()
                time.sleep(0.2)
            done = time.perf_counter()
            cpu = cpu_used(cpu_before)
            memory.stop()

        if counts.done != users:
            failed = job.items.exclude(status=jobs.Status.DONE).values_list("user_name", "error_code")[:5]
            raise SystemExit(f"(c) {counts.done} of {users} users done; e.g. {list(failed)}")
        details = {
            "upload + dry run": f"{planned - start:.1f} s",
            "confirm": f"{confirmed - planned:.1f} s",
            "job": f"{done - confirmed:.1f} s",
            "web memory": f"{web_before:.0f} MiB before, {memory.describe('web')}",
            "worker memory": memory.describe("worker"),
        }
        return done - start, details, cpu


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


def run(args: argparse.Namespace) -> list[Result]:
    work = Path(tempfile.mkdtemp(prefix="iamconsole-bench-bulk-"))
    print(f"logs in {work}", file=sys.stderr)
    proxy_port = free_port()
    proxy_url = f"http://127.0.0.1:{proxy_port}"
    results = []
    console = None
    if "c" in args.ways:
        console = Console(proxy_url, work, args.redis_url, args.database_url)
        console.setup()  # before (a) and (b): fail at once if (c) cannot run
    moto_command = [sys.executable, "-m", "users.iam.embedded", "--host", "127.0.0.1", "--port", "0"]
    moto = Service(moto_command, work / "moto.log")
    try:
        for latency in args.latency:
            for way in args.ways:
                empty_account(moto.url)
                errors_before = moto_errors(moto.log)
                with iam_proxy(moto.url, proxy_port, latency, work / f"proxy-{way}-{latency}.log") as stop_proxy:
                    print(f"  ({way}) {WAYS[way]}, latency {latency * 1000:.0f} ms…", file=sys.stderr)
                    details: dict[str, str] = {}
                    if way in ("a", "b"):
                        cpu_before = cpu_snapshot()
                        script = run_serial if way == "a" else run_threaded
                        seconds = script(proxy_url, args.users, args.concurrency)
                        cpu = cpu_used(cpu_before)
                    else:
                        assert console is not None
                        seconds, details, cpu = console.run_import(args.users, args.concurrency)
                    calls = stop_proxy()
                    if CREATE_USER_RETRIES.count:
                        details["CreateUser sent again after a moto 500"] = str(CREATE_USER_RETRIES.count)
                        CREATE_USER_RETRIES.count = 0
                    if errors := moto_errors(moto.log) - errors_before:
                        details["moto 500s (see moto.log)"] = str(errors)
                check_created(moto.url, way, args.users)
                result = Result(way, latency, args.users, seconds, calls, details, cpu)
                print(f"  ({way}) {result.rate:.1f} users/s", file=sys.stderr)
                results.append(result)
    finally:
        moto.stop()
    return results


def report(results: list[Result], args: argparse.Namespace) -> None:
    print(
        f"\n{args.users} users, concurrency {args.concurrency}; each user: CreateUser (1 tag), "
        "CreateLoginProfile, AddUserToGroup, CreateAccessKey"
    )
    by_key = {(r.latency, r.way): r for r in results}
    columns = [f"({way}) {WAYS[way]}" for way in args.ways]
    header = ["latency", *columns]
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
    print(
        f"targets: c/b ≥ {TARGET_C_OVER_B} at every latency; c/a ≥ {TARGET_C_OVER_A} at {TARGET_LATENCY * 1000:.0f} ms"
    )
    for latency in args.latency:
        c, a, b = (by_key.get((latency, way)) for way in "cab")
        if c and b:
            verdict = "met" if c.rate / b.rate >= TARGET_C_OVER_B else "NOT met"
            print(f"  {latency * 1000:.0f} ms: c/b = {c.rate / b.rate:.2f}, target {verdict}")
        if c and a and latency == TARGET_LATENCY:
            verdict = "met" if c.rate / a.rate >= TARGET_C_OVER_A else "NOT met"
            print(f"  {latency * 1000:.0f} ms: c/a = {c.rate / a.rate:.2f}, target {verdict}")
    print("\ndetails:")
    for result in results:
        calls = sum(result.calls.values())
        print(
            f"  ({result.way}) {result.latency * 1000:.0f} ms: {result.seconds:.1f} s, {result.rate:.1f} users/s, "
            f"{calls} IAM calls ({calls / result.users:.2f} per user) {dict(sorted(result.calls.items()))}"
        )
        for name, value in result.details.items():
            print(f"      {name}: {value}")
        cpu = ", ".join(f"{group} {1000 * seconds / result.users:.1f}" for group, seconds in result.cpu.items())
        total = sum(result.cpu.values())
        cores = os.cpu_count() or 1
        print(
            f"      CPU per user: {1000 * total / result.users:.1f} ms ({cpu}); "
            f"{total / result.seconds:.2f} of {cores} cores busy"
        )


def latencies(values: list[str] | None) -> list[float]:
    if not values:
        return [0.0, TARGET_LATENCY]
    return [float(value) for item in values for value in item.split(",") if value.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument(
        "--latency", action="append", metavar="SECONDS",
        help="seconds added to every IAM call; repeat it or give a list (default: 0,0.05)",
    )  # fmt: skip
    parser.add_argument("--concurrency", type=int, default=8, help="threads of (b), worker processes of (c)")
    parser.add_argument("--ways", default="a,b,c", help="a list of a, b, c (default: all three)")
    parser.add_argument("--redis-url", default=REDIS_URL, help="for (c); this database is flushed")
    parser.add_argument("--database-url", default=DATABASE_URL, help="for (c); created if missing")
    args = parser.parse_args()
    args.latency = latencies(args.latency)
    args.ways = [way.strip() for way in args.ways.split(",") if way.strip()]
    if not args.ways or set(args.ways) - set(WAYS):
        parser.error("--ways takes a list of a, b, c")
    report(run(args), args)


if __name__ == "__main__":
    main()
