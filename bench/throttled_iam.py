"""How close the shared IAM rate limit (users/iam/rate_limit.py) keeps to a rate IAM enforces.

The moto server (`python -m users.iam.embedded`, no snapshot) runs behind the proxy
(`python -m tests.iam_proxy --rate R`), which answers `Throttling` above R requests/s, as IAM
does. A pool of threads then creates N users through rate-limited gateways
(`IamGateway.from_settings(rate_limited=True)`), each user as a bulk-import row asks:
CreateUser, CreateLoginProfile, AddUserToGroup, CreateAccessKey (4 calls; a throttled
CreateAccessKey, which the SDK never resends, is sent again after a pause, as
users/provisioning.py does). The limiter's bucket starts afresh at its ceiling (IAM_RATE_LIMIT).

It prints users/s and its ratio to the bucket's user rate (R / 4), the IAM requests per user
(forwarded and throttled, as the proxy counted them) against the 4 of an unthrottled run, the
throttled count and the limiter's rate at the end; targets: ratio ≥ 0.9, ≤ 6 requests per user,
no user failed. The last line is `RESULT {json}`.

    .venv/bin/python bench/throttled_iam.py                       # 300 users, 32 threads, 20/s
    .venv/bin/python bench/throttled_iam.py --threads 16 --users 600 --ceiling 50

Needs Redis (database 10: --redis-url; only the limiter's key is deleted) and PostgreSQL for
the audit rows (database benchthrottle, created if missing: --database-url).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GROUP = "bench-group"
CALLS_PER_USER = 4
TARGET_RATIO = 0.9
TARGET_CALLS_PER_USER = 6.0  # 1.5 × the unthrottled 4
KEY_BACKOFF = (1.0, 2.0, 4.0, 8.0, 16.0)  # users/provisioning.py's THROTTLED_KEY_BACKOFF


class Service:
    """A child process that prints "... ready on <url> ..." once it serves; stderr to `log`."""

    def __init__(self, command: Sequence[str], log: Path) -> None:
        self.log = log
        self._log_file = log.open("a")
        self.process = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=self._log_file, text=True, start_new_session=True
        )
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if " ready on " in line:
                self.url = line.split(" ready on ", 1)[1].split()[0]
                break
        else:
            raise SystemExit(f"{command[2]} did not start; see {log}")
        threading.Thread(target=self._drain, daemon=True).start()  # never blocks on a full pipe

    def _drain(self) -> None:
        for _ in self.process.stdout or ():
            pass

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(30)
        self._log_file.close()


def proxy_counts(log: Path) -> dict[str, Counter[str]]:
    """What the stopped proxy counted, by kind ("forwarded", "throttled", …) and action."""
    line = next(line for line in reversed(log.read_text().splitlines()) if line.startswith("IAM proxy counts: "))
    return {kind: Counter(counts) for kind, counts in json.loads(line.partition(": ")[2]).items()}


def setup_django(args: argparse.Namespace, proxy_url: str, work: Path) -> None:
    """Django in this process, on the bench's database (migrated) and Redis, IAM at the proxy."""
    import psycopg
    from psycopg import sql

    name = args.database_url.rsplit("/", 1)[1]
    with psycopg.connect(args.database_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    for variable in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "CELERY_BROKER_URL"):
        os.environ.pop(variable, None)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="iamconsole.settings",
        IAM_BACKEND="endpoint",
        IAM_ENDPOINT_URL=proxy_url,
        IAM_RATE_LIMIT=str(args.ceiling),
        REDIS_URL=args.redis_url,
        DATABASE_URL=args.database_url,
        IAMCONSOLE_STATE_DIR=str(work / "state"),
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        SECRET_KEY=secrets.token_urlsafe(50),
        LOG_LEVEL="WARNING",
    )
    migrate = [sys.executable, "manage.py", "migrate", "--noinput", "--verbosity", "0", "--skip-checks"]
    subprocess.run(migrate, cwd=ROOT, check=True)
    import django

    warnings.filterwarnings("ignore", message="No directory at")
    django.setup()


def create_users(args: argparse.Namespace) -> tuple[float, list[str], float | None]:
    """Create the users on the thread pool; (seconds, failures, the limiter's rate at the end)."""
    from users.iam import rate_limit
    from users.iam.errors import IamError, Throttled
    from users.iam.gateway import IamGateway

    limiter = rate_limit.from_settings()
    assert limiter is not None, "no limiter: IAM_RATE_LIMIT is 0 or REDIS_URL is empty"
    limiter.reset()
    password = "Bench-" + secrets.token_urlsafe(12)

    def create(number: int) -> str | None:
        gateway = IamGateway.from_settings(rate_limited=True)
        name = f"bench-{number:05d}"
        try:
            gateway.create_user(name, tags={"team": "bench"})
            gateway.create_login_profile(name, password, reset_required=True)
            gateway.add_user_to_group(GROUP, name)
            for delay in (*KEY_BACKOFF, None):
                try:
                    gateway.create_access_key(name)
                    break
                except Throttled:
                    if delay is None:
                        raise
                    time.sleep(random.uniform(delay / 2, delay))
        except IamError as error:
            return f"{name}: {error.operation} {error.code} {error.message}"
        return None

    start = time.perf_counter()
    with ThreadPoolExecutor(args.threads) as pool:
        failures = [failure for failure in pool.map(create, range(args.users)) if failure]
    return time.perf_counter() - start, failures, limiter.rate()


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="iamconsole-bench-throttled-"))
    (work / "state").mkdir()
    print(f"logs in {work}", file=sys.stderr)
    moto = Service([sys.executable, "-m", "users.iam.embedded", "--port", "0"], work / "moto.log")
    try:
        import boto3

        # The group, and the IAM backend's first build (1,580 managed policies), outside the timing.
        boto3.client(
            "iam", endpoint_url=moto.url, region_name="us-east-1", aws_access_key_id="b", aws_secret_access_key="b"
        ).create_group(GroupName=GROUP)
        rate = ["--rate", str(args.rate), "--burst", str(args.burst or args.rate), "--latency", str(args.latency)]
        proxy = Service([sys.executable, "-m", "tests.iam_proxy", "--upstream", moto.url, *rate], work / "proxy.log")
        try:
            setup_django(args, proxy.url, work)
            seconds, failures, final_rate = create_users(args)
        finally:
            proxy.stop()
    finally:
        moto.stop()
    counts = proxy_counts(work / "proxy.log")
    sent = counts["forwarded"].total() + counts["throttled"].total()
    users_per_second = args.users / seconds
    return {
        "users": args.users,
        "threads": args.threads,
        "rate": args.rate,
        "ceiling": args.ceiling,
        "seconds": round(seconds, 1),
        "users_per_second": round(users_per_second, 2),
        "ratio": round(users_per_second / (args.rate / CALLS_PER_USER), 3),
        "calls_per_user": round(sent / args.users, 2),
        "throttled": counts["throttled"].total(),
        "throttled_by_action": dict(counts["throttled"]),
        "failed": len(failures),
        "failures": failures[:5],
        "limiter_rate_at_end": None if final_rate is None else round(final_rate, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--rate", type=float, default=20.0, help="the proxy's requests/s (IAM's limit)")
    parser.add_argument("--burst", type=float, help="the proxy's bucket capacity (default: the rate)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds the proxy adds to every IAM request")
    parser.add_argument("--ceiling", type=float, default=500.0, help="IAM_RATE_LIMIT, where the limiter starts")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/10")
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/benchthrottle")
    result = run(parser.parse_args())
    print(
        f"{result['users']} users in {result['seconds']} s: {result['users_per_second']} users/s, "
        f"{result['ratio']} × the bucket's {result['rate'] / CALLS_PER_USER:g} users/s (target ≥ {TARGET_RATIO}); "
        f"{result['calls_per_user']} IAM requests per user (target ≤ {TARGET_CALLS_PER_USER:g}), "
        f"{result['throttled']} throttled; {result['failed']} failed; "
        f"limiter at {result['limiter_rate_at_end']} requests/s"
    )
    print("RESULT " + json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
