"""A bounded load test: operators browse a running console while a bulk import runs.

Against the console at --url (default http://127.0.0.1:8000, e.g. the production-shaped stack):
  1. creates --operators operator accounts (loadtest-operator-01…, Operators group, a new random
     password each run) directly through Django: run this with the console's DATABASE_URL (and
     IAMCONSOLE_STATE_DIR, IAM_BACKEND, IAM_ENDPOINT_URL) in the environment;
  2. creates through boto3, at the console's IAM endpoint, a group and a few users for the
     details pages (loadtest-seed-01…, each with a password, an access key and the group; kept
     between runs);
  3. the first operator uploads a CSV of --users valid rows (lt-<run>-00001…: password, access
     key, the group, a tag), opens the dry run's plan and confirms it, through the forms a browser
     posts (sign-in form, CSRF token, session cookie);
  4. while the job runs, each operator has a browsing thread that loops users list (/users/) →
     a seed user's details page → the job's page, 0.5–1 s of think time between requests, and a
     thread that polls the job's progress endpoint 1 s after each answer, as the page's script
     does. A job is its operator's alone (anyone else gets 404), so the job's page and progress
     are read through sessions of the importing operator, one per thread (as if it watched from
     that many browsers); the users list and details pages through each thread's own operator.
  5. stops when the progress says the job finished, or after --max-seconds.

It prints, per kind of request, the count, the errors (an exception, a 4xx/5xx, a redirect to the
sign-in or MFA step), p50, p95 and max in ms; the job's duration and users/s; the targets (no
error; p95 < 500 ms for pages, < 200 ms for progress) as met or not; the CPU this client used
(it shares the machine with the console) and the CPU of each group of processes meanwhile; then
checks that IAM holds the imported users and ends with a `RESULT {json}` line.

    .venv/bin/python bench/load_test.py                                   # 20 operators, 1,000 users
    .venv/bin/python bench/load_test.py --operators 5 --users 100 --url http://127.0.0.1:8123

The operators sign in with a password only: the console must not require operator MFA
(OPERATOR_MFA=optional, the default but with IAM_BACKEND=aws); the bench stops with that message
if it does.
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import json
import math
import os
import random
import re
import secrets
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

OPERATOR_PREFIX = "loadtest-operator-"
SEED_PREFIX = "loadtest-seed-"
SEED_USERS = 10
IAM_PATH = "/loadtest/"
GROUP = "loadtest-group"
THINK_SECONDS = (0.5, 1.0)
POLL_SECONDS = 1.0  # the job page's script polls 1 s after each answer (static/js/job_progress.js)
TIMEOUT_SECONDS = 60
PAGES = ("users list", "user details", "job page")
PROGRESS = "progress"
TARGET_PAGE_P95_MS = 500
TARGET_PROGRESS_P95_MS = 200
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
TITLE = re.compile(r"<title>(.*?)</title>", re.DOTALL)
MFA_REQUIRED = (
    "This console requires operator MFA (OPERATOR_MFA=required, the default with IAM_BACKEND=aws): "
    "the load test signs in with passwords only. Run the console with OPERATOR_MFA=optional."
)


# --- What the client saw ------------------------------------------------------------------------


@dataclass
class Recorder:
    """Each request's milliseconds and errors, by kind (thread-safe)."""

    samples: dict[str, list[float]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    kinds_of_error: Counter[str] = field(default_factory=Counter)  # "users list: 503 on …": how many
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, milliseconds: float, error: str | None) -> None:
        with self.lock:
            self.samples.setdefault(kind, []).append(milliseconds)
            if error:
                self.errors[kind] += 1
                self.kinds_of_error[f"{kind}: {error}"] += 1

    def summary(self, kind: str) -> dict[str, float]:
        with self.lock:
            values = sorted(self.samples.get(kind, []))
            errors = self.errors[kind]
        if not values:
            return {"count": 0, "errors": errors}
        return {
            "count": len(values),
            "errors": errors,
            "p50_ms": round(percentile(values, 0.50), 1),
            "p95_ms": round(percentile(values, 0.95), 1),
            "max_ms": round(values[-1], 1),
        }


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest rank: the smallest value with at least `fraction` of the values at or below it."""
    return ordered[max(math.ceil(fraction * len(ordered)) - 1, 0)]


def timed_get(session: requests.Session, url: str, kind: str, recorder: Recorder) -> requests.Response | None:
    """GET without following redirects, timed and recorded; None after an exception."""
    start = time.perf_counter()
    try:
        response = session.get(url, allow_redirects=False, timeout=TIMEOUT_SECONDS)
    except requests.RequestException as error:
        recorder.add(kind, (time.perf_counter() - start) * 1000, f"{type(error).__name__} on {url}")
        return None
    milliseconds = (time.perf_counter() - start) * 1000
    location = urlsplit(response.headers.get("Location", "")).path
    if response.status_code >= 400:
        title = TITLE.search(response.text)
        recorder.add(
            kind, milliseconds, f"{response.status_code} on {url}" + (f" ({title[1].strip()})" if title else "")
        )
    elif location.startswith(("/login/", "/account/mfa/")):
        recorder.add(kind, milliseconds, f"{response.status_code} to {location} on {url}")
    else:
        recorder.add(kind, milliseconds, None)
    return response


# --- The console's side: operators, forms ------------------------------------------------------


def set_up_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "iamconsole.settings")
    import django

    django.setup()


def create_operators(count: int) -> list[tuple[str, str]]:
    """`count` operators (user name, password), created or given a new password."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from users.roles import OPERATORS

    group = Group.objects.get(name=OPERATORS)
    accounts = []
    for number in range(1, count + 1):
        operator, _ = get_user_model().objects.get_or_create(username=f"{OPERATOR_PREFIX}{number:02d}")
        password = secrets.token_urlsafe(18)
        operator.set_password(password)
        operator.is_active = True
        operator.save()
        operator.groups.add(group)
        accounts.append((operator.username, password))
    return accounts


def csrf_token(response: requests.Response) -> str:
    if match := CSRF_FIELD.search(response.text):
        return match.group(1)
    raise SystemExit(f"no CSRF token in {response.url} ({response.status_code})")


def follow(response: requests.Response, expected: str, doing: str) -> str:
    """The redirect's absolute target, whose path must start with `expected`."""
    location = urljoin(response.url, response.headers.get("Location", ""))
    if response.status_code not in (301, 302, 303) or not urlsplit(location).path.startswith(expected):
        raise SystemExit(f"{doing} answered {response.status_code} {location!r}, not a redirect to {expected}…")
    return location


def sign_in(base: str, username: str, password: str, recorder: Recorder) -> requests.Session:
    """Sign in through the sign-in form, as a browser does; the session holds the cookies."""
    session = requests.Session()
    start = time.perf_counter()
    form = session.get(f"{base}/login/", timeout=TIMEOUT_SECONDS)
    data = {"username": username, "password": password, "csrfmiddlewaretoken": csrf_token(form), "next": "/jobs/"}
    response = session.post(f"{base}/login/", data=data, allow_redirects=False, timeout=TIMEOUT_SECONDS)
    recorder.add("sign-in", (time.perf_counter() - start) * 1000, None)
    if response.status_code == 200:
        raise SystemExit(f"{username} could not sign in: does this run have the console's DATABASE_URL?")
    follow(response, "/jobs/", f"signing in as {username}")
    # A cheap page (the operator's jobs, from the database): is another step required first?
    landing = session.get(f"{base}/jobs/", allow_redirects=False, timeout=TIMEOUT_SECONDS)
    if urlsplit(landing.headers.get("Location", "")).path.startswith("/account/mfa/"):
        raise SystemExit(
            f"{username} is sent to the MFA step after its password: the console requires operator MFA "
            "(OPERATOR_MFA=optional turns that off) or this operator has a device; the load test signs in "
            "with passwords only."
        )
    if landing.status_code != 200:
        raise SystemExit(f"{username}'s jobs page answered {landing.status_code} after signing in")
    return session


@dataclass
class Import:
    job_url: str
    progress_url: str
    seconds: dict[str, float]  # per step of the import, as the operator waited


def start_import(base: str, session: requests.Session, data: bytes) -> Import:
    """Upload the CSV, open the dry run's plan, confirm: the job's URL."""
    from django.urls import resolve, reverse

    from users.models import ImportRow

    start = time.perf_counter()
    form = session.get(f"{base}/import/", timeout=TIMEOUT_SECONDS)
    response = session.post(
        f"{base}/import/",
        data={"csrfmiddlewaretoken": csrf_token(form)},
        files={"file": ("loadtest.csv", data, "text/csv")},
        allow_redirects=False,
        timeout=TIMEOUT_SECONDS,
    )
    plan_url = follow(response, "/import/", "uploading the CSV")
    plan = session.get(plan_url, timeout=TIMEOUT_SECONDS)
    if plan.status_code != 200:
        raise SystemExit(f"the dry run's plan answered {plan.status_code}")
    upload_id = resolve(urlsplit(plan_url).path).kwargs["import_id"]
    if invalid := list(ImportRow.objects.filter(upload_id=upload_id, is_valid=False)[:3]):
        raise SystemExit(f"the dry run refused rows, e.g. {[(row.line, row.errors) for row in invalid]}")
    planned = time.perf_counter()
    response = session.post(
        urljoin(base, reverse("users:import_confirm", kwargs={"import_id": upload_id})),
        data={"csrfmiddlewaretoken": csrf_token(plan)},
        allow_redirects=False,
        timeout=TIMEOUT_SECONDS,
    )
    job_url = follow(response, "/jobs/", "confirming the import")
    confirmed = time.perf_counter()
    job_id = resolve(urlsplit(job_url).path).kwargs["job_id"]
    progress_url = urljoin(base, reverse("users:job_progress", kwargs={"job_id": job_id}) + "?page=1")
    seconds = {"upload + dry run": planned - start, "confirm": confirmed - planned}
    return Import(job_url, progress_url, seconds)


def import_csv(run: str, users: int) -> bytes:
    from users.imports import COLUMNS

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for number in range(1, users + 1):
        writer.writerow([f"lt-{run}-{number:05d}", IAM_PATH, GROUP, "", "", "team=loadtest", "yes", "no", "yes"])
    return out.getvalue().encode()


# --- IAM, directly: the seed users and the final check ----------------------------------------------


def iam_client() -> Any:
    """An IAM client for the console's backend (its endpoint; on AWS, the credential chain)."""
    import boto3
    from django.conf import settings

    options: dict[str, Any] = {"region_name": "us-east-1"}
    if settings.IAM_ENDPOINT_URL:
        options["endpoint_url"] = settings.IAM_ENDPOINT_URL
        options["aws_access_key_id"] = os.environ.get("AWS_ACCESS_KEY_ID", "loadtest")
        options["aws_secret_access_key"] = os.environ.get("AWS_SECRET_ACCESS_KEY", "loadtest")
    return boto3.client("iam", **options)


def seed(iam: Any) -> list[str]:
    """The group of the imported users, and SEED_USERS users for the details pages (made once)."""
    existing = {
        user["UserName"]
        for page in iam.get_paginator("list_users").paginate(PathPrefix=IAM_PATH)
        for user in page["Users"]
    }
    if GROUP not in {group["GroupName"] for group in iam.list_groups(PathPrefix=IAM_PATH)["Groups"]}:
        iam.create_group(GroupName=GROUP, Path=IAM_PATH)
    names = [f"{SEED_PREFIX}{number:02d}" for number in range(1, SEED_USERS + 1)]
    for name in names:
        if name not in existing:
            iam.create_user(UserName=name, Path=IAM_PATH, Tags=[{"Key": "team", "Value": "loadtest"}])
            iam.create_login_profile(UserName=name, Password=secrets.token_urlsafe(15) + "aA1!")
            iam.add_user_to_group(GroupName=GROUP, UserName=name)
            iam.create_access_key(UserName=name)
    return names


def check_imported(iam: Any, run: str, users: int) -> list[str]:
    """What is wrong with the imported users in IAM (nothing: an empty list): all there, and a
    sample each with a password, one access key and the group."""
    names = sorted(
        user["UserName"]
        for page in iam.get_paginator("list_users").paginate(PathPrefix=IAM_PATH)
        for user in page["Users"]
        if user["UserName"].startswith(f"lt-{run}-")
    )
    problems = [] if len(names) == users else [f"IAM holds {len(names)} of the {users} imported users"]
    for name in random.sample(names, min(5, len(names))):
        keys = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
        groups = [group["GroupName"] for group in iam.list_groups_for_user(UserName=name)["Groups"]]
        try:
            iam.get_login_profile(UserName=name)
        except iam.exceptions.NoSuchEntityException:
            problems.append(f"{name} has no password")
        if len(keys) != 1 or groups != [GROUP]:
            problems.append(f"{name}: {len(keys)} access keys, groups {groups}")
    return problems


# --- The load ----------------------------------------------------------------------------------


@dataclass
class Finish:
    """The first progress answer that says the job finished; `latest`, the last answer."""

    event: threading.Event = field(default_factory=threading.Event)
    at: float = 0.0
    counts: dict[str, Any] = field(default_factory=dict)
    latest: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def seen(self, counts: dict[str, Any]) -> None:
        with self.lock:
            self.latest = counts
            if counts["finished"] and not self.event.is_set():
                self.at, self.counts = time.perf_counter(), counts
                self.event.set()


def browse(
    operator: requests.Session, watcher: requests.Session, base: str, job_url: str, details: list[str],
    stop: threading.Event, recorder: Recorder,
) -> None:  # fmt: skip
    """One operator: the users list, a user's details page (the next of `details` each time round),
    the job's page, in turn, with think time."""
    for round_number in itertools.count():
        user = quote(details[round_number % len(details)], safe="")
        urls = {"users list": f"{base}/users/", "user details": f"{base}/users/details/{user}/", "job page": job_url}
        for kind, url in urls.items():
            timed_get(watcher if kind == "job page" else operator, url, kind, recorder)
            if stop.wait(random.uniform(*THINK_SECONDS)):
                return


def poll(watcher: requests.Session, url: str, stop: threading.Event, recorder: Recorder, finish: Finish) -> None:
    """The job page's script: the progress JSON, 1 s after each answer."""
    while True:
        response = timed_get(watcher, url, PROGRESS, recorder)
        if response is not None and response.status_code == 200:
            finish.seen(response.json())
        if stop.wait(POLL_SECONDS):
            return


CPU_GROUPS = (  # (group, what its command lines contain), the first match wins
    ("web", "gunicorn"),
    ("worker", "celery"),
    ("iam", "users.iam.embedded"),
    ("iam", "moto"),
    ("postgres", "postgres"),
    ("redis", "redis-server"),
)


def cpu_ticks() -> dict[tuple[int, str], tuple[str, int]]:
    """Every process's CPU time so far (clock ticks), keyed by pid and start time, with its group:
    CPU_GROUPS by command line, "load test" for this process, "other" for the rest."""
    ticks = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            command = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        group = next((name for name, marker in CPU_GROUPS if marker in command), "other")
        ticks[(int(entry), fields[19])] = (
            "load test" if int(entry) == os.getpid() else group,
            int(fields[11]) + int(fields[12]),
        )
    return ticks


def cpu_seconds(before: dict[tuple[int, str], tuple[str, int]]) -> dict[str, float]:
    """CPU seconds by group since `before` (a process that ended meanwhile is not counted)."""
    used: Counter[str] = Counter()
    for key, (group, ticks) in cpu_ticks().items():
        used[group] += ticks - before.get(key, (group, 0))[1]
    per_second = os.sysconf("SC_CLK_TCK")
    return {group: round(ticks / per_second, 1) for group, ticks in used.most_common()}


@dataclass
class Run:
    operators: int
    users: int
    recorder: Recorder
    import_seconds: dict[str, float]
    job_seconds: float | None  # None: not finished within --max-seconds
    counts: dict[str, Any]
    wall_seconds: float
    client_cpu_seconds: float
    cpu_by_group: dict[str, float]
    problems: list[str]


def run(args: argparse.Namespace) -> Run:
    base = args.url.rstrip("/")
    set_up_django()
    from botocore.exceptions import EndpointConnectionError
    from django.conf import settings

    if settings.OPERATOR_MFA == "required":
        raise SystemExit(MFA_REQUIRED)
    recorder = Recorder()
    print(f"creating {args.operators} operators and the seed users…", file=sys.stderr)
    accounts = create_operators(args.operators)
    iam = iam_client()
    try:
        seed_names = seed(iam)
    except EndpointConnectionError as error:
        raise SystemExit(f"{error}: does this run have the console's IAM_BACKEND and IAM_ENDPOINT_URL?") from None
    print("signing in…", file=sys.stderr)
    operators = [sign_in(base, name, password, recorder) for name, password in accounts]
    # A job is its operator's alone: each thread reads it through a session of its own of the importer.
    watchers = [sign_in(base, *accounts[0], recorder) for _ in range(args.operators)]

    run_id = secrets.token_hex(3)
    print(f"importing {args.users} users (lt-{run_id}-…)…", file=sys.stderr)
    job = start_import(base, operators[0], import_csv(run_id, args.users))
    confirmed = time.perf_counter()
    stop, finish = threading.Event(), Finish()
    cpu_before, client_before = cpu_ticks(), time.process_time()
    threads = []
    for number, (operator, watcher) in enumerate(zip(operators, watchers, strict=True)):
        first = number % len(seed_names)  # each operator starts on another user
        details = seed_names[first:] + seed_names[:first]
        threads += [
            threading.Thread(
                target=browse, args=(operator, watcher, base, job.job_url, details, stop, recorder), daemon=True
            ),
            threading.Thread(target=poll, args=(watcher, job.progress_url, stop, recorder, finish), daemon=True),
        ]
    for thread in threads:
        thread.start()
        time.sleep(POLL_SECONDS / len(threads))  # spread the operators over the first second
    last_report = time.perf_counter()
    while not finish.event.wait(1) and time.perf_counter() - confirmed < args.max_seconds:
        if time.perf_counter() - last_report >= 15:
            print(f"  {finish.latest.get('processed', 0)} of {args.users} users processed…", file=sys.stderr)
            last_report = time.perf_counter()
    stop.set()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - confirmed
    client_cpu, cpu_by_group = time.process_time() - client_before, cpu_seconds(cpu_before)

    counts = finish.counts or operators[0].get(job.progress_url, timeout=TIMEOUT_SECONDS).json()
    problems = []
    if not finish.event.is_set():
        problems.append(f"the job did not finish within {args.max_seconds} s")
    elif counts["done"] != args.users:
        problems.append(f"the job ended with {counts['done']} of {args.users} users done, {counts['failed']} failed")
    problems += check_imported(iam, run_id, args.users) if finish.event.is_set() else []
    job_seconds = finish.at - confirmed if finish.event.is_set() else None
    return Run(
        args.operators, args.users, recorder, job.seconds, job_seconds, counts, wall, client_cpu, cpu_by_group, problems
    )


# --- The report ----------------------------------------------------------------------------------


def targets(result: Run) -> dict[str, bool]:
    summaries = {kind: result.recorder.summary(kind) for kind in (*PAGES, PROGRESS)}
    errors = sum(summary["errors"] for summary in summaries.values())
    return {
        "no errors": errors == 0,
        f"pages p95 < {TARGET_PAGE_P95_MS} ms": all(
            summaries[kind].get("p95_ms", math.inf) < TARGET_PAGE_P95_MS for kind in PAGES
        ),
        f"progress p95 < {TARGET_PROGRESS_P95_MS} ms": summaries[PROGRESS].get("p95_ms", math.inf)
        < TARGET_PROGRESS_P95_MS,
    }


def report(result: Run, url: str) -> None:
    kinds = (*PAGES, PROGRESS, "sign-in")
    summaries = {kind: result.recorder.summary(kind) for kind in kinds}
    print(f"\n{result.operators} operators on {url} during an import of {result.users} users")
    header = ["request", "count", "errors", "p50 ms", "p95 ms", "max ms"]
    rows = [
        [kind] + [str(summaries[kind].get(key, "—")) for key in ("count", "errors", "p50_ms", "p95_ms", "max_ms")]
        for kind in kinds
    ]
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]
    for line in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
    print("(sign-in: before the load, not a target)")
    for error, count in result.recorder.kinds_of_error.most_common(10):
        print(f"  {count} × {error}")

    steps = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in result.import_seconds.items())
    if result.job_seconds is not None:
        rate = result.counts["done"] / result.job_seconds
        print(f"job: {result.counts['done']} users done in {result.job_seconds:.1f} s ({rate:.1f} users/s); {steps}")
    else:
        print(
            f"job: not finished after {result.wall_seconds:.0f} s ({result.counts.get('processed')} processed); {steps}"
        )
    cores = os.cpu_count() or 1
    busy = sum(result.cpu_by_group.values()) / result.wall_seconds
    print(
        f"CPU during the load ({result.wall_seconds:.0f} s): this client {result.client_cpu_seconds:.1f} s "
        f"({result.client_cpu_seconds / result.wall_seconds:.2f} cores); all processes {busy:.2f} of {cores} cores; "
        f"seconds by group: {result.cpu_by_group}"
    )
    print("targets:")
    for target, met in targets(result).items():
        print(f"  {target}: {'met' if met else 'NOT met'}")
    print("check: " + ("IAM holds every imported user" if not result.problems else "; ".join(result.problems)))
    summary = {
        "operators": result.operators,
        "users": result.users,
        "requests": {kind: summaries[kind] for kind in kinds},
        "job_seconds": None if result.job_seconds is None else round(result.job_seconds, 1),
        "users_per_second": None
        if result.job_seconds is None
        else round(result.counts["done"] / result.job_seconds, 1),
        "import_seconds": {step: round(seconds, 2) for step, seconds in result.import_seconds.items()},
        "client_cpu_cores": round(result.client_cpu_seconds / result.wall_seconds, 2),
        "busy_cores": round(busy, 2),
        "cpu_seconds": result.cpu_by_group,
        "targets": targets(result),
        "errors": dict(result.recorder.kinds_of_error.most_common(10)),
        "problems": result.problems,
    }
    print(f"RESULT {json.dumps(summary)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the running console")
    parser.add_argument("--operators", type=int, default=20)
    parser.add_argument("--users", type=int, default=1000, help="rows of the import")
    parser.add_argument("--max-seconds", type=float, default=600, help="stop the load after this, finished or not")
    args = parser.parse_args()
    if args.operators < 1 or args.users < 1:
        parser.error("--operators and --users must be at least 1")
    result = run(args)
    report(result, args.url)
    if result.problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
