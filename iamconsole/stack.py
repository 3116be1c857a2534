"""`make stack`: the production stack of docker-compose.yml on one machine, without Docker.

Under the Supervisor of `make run` (iamconsole/supervisor.py: a component that dies is restarted
with backoff, Ctrl-C or SIGTERM stops everything), it starts:

- Redis: REDIS_URL when given, else a private redis-server (appendonly, noeviction, as in
  compose) on a free port (--redis-port), its data in the state directory;
- PostgreSQL: DATABASE_URL when given, else a private cluster in the state directory (initdb
  and postgres from PATH or /usr/lib/postgresql/*/bin; PostgreSQL refuses to run as root);
- a moto server (python -m users.iam.embedded) standing in for AWS, as compose's demo profile
  does: the console uses it as IAM_BACKEND=endpoint and never sees real AWS credentials;

then migrates, creates a first operator, and starts --workers Celery workers (worker1@<host>,
worker2@<host> …: as separate machines would run them) and gunicorn (3 processes × 4 threads),
with DEBUG off and HTTPS=false (no TLS proxy in front). State: <IAMCONSOLE_STATE_DIR>/stack.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from django.conf import settings

from iamconsole.supervisor import Component, Supervisor, free_port, port_in_use, wait_for_http

POSTGRES_DATABASE = "console"
READY_SECONDS = 60  # for each service to say it is ready, and for /health/ to answer 200
# gunicorn keeps an idle connection this long (its default, 2 s, closes connections a client is
# about to reuse: a request sent as it closes fails). Above a load balancer's idle timeout
# (60 s on AWS's), so that the balancer closes first.
KEEP_ALIVE_SECONDS = 75


def default_state_dir() -> Path:
    state = os.environ.get("IAMCONSOLE_STATE_DIR") or Path.home() / ".local" / "state" / "iam-console"
    return Path(state) / "stack"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m iamconsole.stack", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--workers", type=int, default=2, help="Celery workers, each its own host name (2)")
    parser.add_argument("--concurrency", type=int, help="processes per worker (CELERY_WORKER_CONCURRENCY, 2)")
    parser.add_argument("--web-workers", type=int, default=3, help="gunicorn processes (3)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn process (4)")
    parser.add_argument("--state-dir", type=Path, default=default_state_dir())
    parser.add_argument("--redis-port", type=int, help="the private Redis's port (default: a free one)")
    parser.add_argument("--postgres-port", type=int, help="the private PostgreSQL's port (default: a free one)")
    return parser.parse_args(argv)


def without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)))


# --- the services -------------------------------------------------------------------------------


def redis_server(state: Path, port: int) -> Component:
    if not shutil.which("redis-server"):
        raise SystemExit("redis-server is not installed: install it (apt-get install redis-server) or set REDIS_URL.")
    data = state / "redis"
    data.mkdir(mode=0o700, parents=True, exist_ok=True)
    command = [
        "redis-server", "--bind", "127.0.0.1", "--port", str(port), "--dir", str(data),
        "--appendonly", "yes", "--maxmemory-policy", "noeviction",  # as compose (RELIABILITY.md §2.6)
    ]  # fmt: skip
    return Component("redis", "Redis", command, ready_line="Ready to accept connections")


def postgres_bin() -> Path | None:
    """The folder of initdb and postgres: from PATH, else Debian's newest /usr/lib/postgresql/<version>/bin."""
    if found := shutil.which("initdb"):
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda path: int(path.parts[-3]))
    return versions[-1].parent if versions else None


def postgres_server(state: Path, port: int) -> Component:
    """A private cluster in the state directory, created by initdb the first time (trust auth, TCP
    on 127.0.0.1 only)."""
    binaries = postgres_bin()
    if binaries is None:
        raise SystemExit("No PostgreSQL found (initdb): install it, or set DATABASE_URL to a PostgreSQL database.")
    if os.geteuid() == 0:
        raise SystemExit(
            "PostgreSQL does not run as root: run make stack as another user, or set DATABASE_URL "
            "(e.g. postgresql://postgres@127.0.0.1:5432/console) to a database of a running PostgreSQL."
        )
    data = state / "postgres"
    if not (data / "PG_VERSION").exists():
        initdb = [str(binaries / "initdb"), "-D", str(data), "-U", POSTGRES_DATABASE, "--auth=trust", "-E", "UTF8"]
        done = subprocess.run(initdb, capture_output=True, text=True, check=False)
        if done.returncode:
            raise SystemExit(f"initdb failed:\n{done.stdout}{done.stderr}")
    command = [
        str(binaries / "postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(port),
        "-c", "unix_socket_directories=",
    ]  # fmt: skip
    # SIGINT: PostgreSQL's fast shutdown (SIGTERM would wait for every client to disconnect).
    return Component(
        "postgres", "PostgreSQL", command, ready_line="ready to accept connections", stop_signal=signal.SIGINT
    )


def ensure_database(url: str) -> None:
    """Create the database of `url` when the server has none of that name yet (as compose's postgres
    image does with POSTGRES_DB); a clear error when the server does not answer."""
    import psycopg
    from psycopg import sql

    try:
        psycopg.connect(url, connect_timeout=5).close()
        return
    except psycopg.OperationalError as error:
        if "does not exist" not in str(error):
            raise SystemExit(f"Cannot connect to {without_password(url)}: {error}") from error
    parts = urlsplit(url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True, connect_timeout=5) as db:
        db.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(unquote(parts.path.lstrip("/")))))


def moto_server(state: Path, port: int) -> Component:
    snapshot = state / "moto" / "embedded-iam.pickle"
    command = [sys.executable, "-m", "users.iam.embedded", "--port", str(port), "--snapshot", str(snapshot)]
    return Component("moto", "The moto server", command, ready_line="ready on")


# --- the console --------------------------------------------------------------------------------


def console_environment(state: Path, host: str, iam_url: str) -> None:
    """The settings of compose's web and worker, in our environment (the components inherit it):
    DEBUG off, no HTTPS locally, IAM on the moto server with made-up credentials (so real AWS ones
    in the environment never go to the stand-in), secrets generated once into the state directory."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "IAM_ASSUME_ROLE_ARN"):
        os.environ.pop(name, None)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="iamconsole.settings",
        IAMCONSOLE_STATE_DIR=str(state),
        DEBUG="false",
        ALLOWED_HOSTS=os.environ.get("ALLOWED_HOSTS") or f"127.0.0.1,localhost,{host}",
        HTTPS="false",
        TRUST_X_FORWARDED_PROTO="false",
        IAM_BACKEND="endpoint",
        IAM_ENDPOINT_URL=iam_url,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
    )


def prepare_database() -> str:
    """Migrate, create the first operator; what ensure_operator printed (the login, once). Django
    is set up here, once our environment holds the stack's settings."""
    import django
    from django.core.management import call_command
    from django.db import connections

    django.setup()
    settings.STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise serves from the finders; it wants the folder
    call_command("migrate", interactive=False, verbosity=0)
    login = io.StringIO()
    call_command("ensure_operator", stdout=login)
    connections.close_all()
    return login.getvalue()


def celery_worker(number: int, concurrency: int) -> Component:
    command = [
        sys.executable, "-m", "celery", "-A", "iamconsole", "worker", "-n", f"worker{number}@%h",
        "--concurrency", str(concurrency), "--loglevel", "INFO",
    ]  # fmt: skip
    return Component(f"worker{number}", f"Celery worker {number}", command)


def web_server(args: argparse.Namespace) -> Component:
    command = [
        sys.executable, "-m", "gunicorn", "iamconsole.wsgi", "--bind", f"{args.host}:{args.port}",
        "--workers", str(args.web_workers), "--threads", str(args.threads), "--graceful-timeout", "10",
        "--keep-alive", str(KEEP_ALIVE_SECONDS), "--no-control-socket",
    ]  # fmt: skip
    return Component("web", "The web server", command)


def readiness(url: str) -> dict[str, str]:
    """/health/'s checks (an empty dict while it does not answer)."""
    try:
        with urllib.request.urlopen(f"{url}/health/", timeout=5) as response:
            return dict(json.load(response)["checks"])
    except urllib.error.HTTPError as error:
        return dict(json.load(error)["checks"])
    except (OSError, ValueError):
        return {}


def all_ok(checks: dict[str, str]) -> bool:
    return bool(checks) and all(value == "ok" for value in checks.values())


def wait_until_ready(url: str, seconds: float) -> dict[str, str]:
    deadline = time.monotonic() + seconds
    while not all_ok(checks := readiness(url)) and time.monotonic() < deadline:
        time.sleep(1)
    return checks


# --- make stack ---------------------------------------------------------------------------------


def start_redis(supervisor: Supervisor, state: Path, port: int | None) -> str:
    """REDIS_URL, else a private Redis (its URL then set in REDIS_URL); the summary line."""
    if os.environ.get("REDIS_URL"):
        return f"Redis:       {without_password(os.environ['REDIS_URL'])}"
    port = port or free_port()
    supervisor.add(redis_server(state, port))
    if not supervisor.wait_ready("redis", READY_SECONDS):
        raise SystemExit("Redis did not start; see its output above.")
    os.environ["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
    return f"Redis:       {os.environ['REDIS_URL']} (private, appendonly; data in {state / 'redis'})"


def start_postgres(supervisor: Supervisor, state: Path, port: int | None) -> str:
    """DATABASE_URL, else a private cluster (its URL then set in DATABASE_URL), its database
    created if missing; the summary line."""
    if url := os.environ.get("DATABASE_URL"):
        if not urlsplit(url).scheme.startswith("postgres"):
            raise SystemExit("The stack runs on PostgreSQL, as in compose: DATABASE_URL must be postgresql://…")
        line = f"PostgreSQL:  {without_password(url)}"
    else:
        port = port or free_port()
        supervisor.add(postgres_server(state, port))
        if not supervisor.wait_ready("postgres", READY_SECONDS):
            raise SystemExit("PostgreSQL did not start; see its output above.")
        url = os.environ["DATABASE_URL"] = f"postgresql://{POSTGRES_DATABASE}@127.0.0.1:{port}/{POSTGRES_DATABASE}"
        line = f"PostgreSQL:  {url} (private; data in {state / 'postgres'})"
    ensure_database(url)
    return line


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    url = f"http://{args.host}:{args.port}"
    if port_in_use(args.host, args.port):
        raise SystemExit(f"Something is already listening on {url}: choose another --port (or PORT).")
    state: Path = args.state_dir.resolve()
    state.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.environ.pop("CELERY_BROKER_URL", None)  # Redis is the broker, as in compose
    supervisor = Supervisor("stack")

    def start() -> None:
        summary = [
            start_redis(supervisor, state, args.redis_port),
            start_postgres(supervisor, state, args.postgres_port),
        ]
        iam_port = free_port()
        supervisor.add(moto_server(state, iam_port))
        if not supervisor.wait_ready("moto", READY_SECONDS):
            raise SystemExit("The moto server did not start; see its output above.")
        console_environment(state, args.host, f"http://127.0.0.1:{iam_port}")
        summary.append(f"IAM:         moto server on http://127.0.0.1:{iam_port} (IAM_BACKEND=endpoint)")
        login = prepare_database()
        concurrency = args.concurrency or settings.CELERY_WORKER_CONCURRENCY
        workers = [celery_worker(number, concurrency) for number in range(1, args.workers + 1)]
        supervisor.add(*workers, web_server(args))
        summary.append(f"Workers:     {args.workers} Celery workers (worker1@<host> …), {concurrency} processes each")
        summary.append(f"Web:         gunicorn, {args.web_workers} processes × {args.threads} threads")
        if not wait_for_http(f"{url}/health/live/", READY_SECONDS):
            raise SystemExit("The web server did not start; see its output above.")
        checks = wait_until_ready(url, READY_SECONDS)
        print(f"\nHealth ({url}/health/): {'every check ok' if all_ok(checks) else f'NOT ready yet: {checks}'}")
        print(f"\nIAM Console (production stack) is running on {url}  Ctrl-C stops it.")
        print("\n".join(f"  {line}" for line in summary))
        print(f"State: {state}\n{login}", flush=True)

    supervisor.run(start)


if __name__ == "__main__":
    main()
