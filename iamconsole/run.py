"""`make run`: the whole console on one machine, in one terminal.

Chooses a broker (REDIS_URL, else a Redis answering on 127.0.0.1:6379, else kombu's
filesystem transport), migrates, creates a first operator, then starts the embedded
IAM backend, a Celery worker and the web server under a Supervisor (iamconsole/supervisor.py):
one that exits is restarted with backoff while the others keep serving. Ctrl-C (or
SIGTERM) stops them all; the embedded backend saves its state on the way out. A second
signal (Ctrl-C twice; make forwards SIGTERM) does not interrupt the stop.

The broker is chosen here, before Django reads its settings, because the settings
and every child process read REDIS_URL from the environment.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
import uuid
from typing import cast

from iamconsole.supervisor import Component, Supervisor, port_in_use, wait_for_http

LOCAL_REDIS = "redis://127.0.0.1:6379/0"


def redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5).ping())
    except (redis.RedisError, OSError):
        return False


def choose_broker() -> str:
    """Set REDIS_URL in our environment (inherited by the children) and say what we use."""
    if os.environ.get("REDIS_URL"):
        return f"Redis at {os.environ['REDIS_URL']}"
    if not os.environ.get("CELERY_BROKER_URL") and redis_answers(LOCAL_REDIS):
        os.environ["REDIS_URL"] = LOCAL_REDIS
        return f"Redis at {LOCAL_REDIS}"
    return os.environ.get("CELERY_BROKER_URL") or "no Redis found: kombu's filesystem transport"


def embedded_backend(port: int, snapshot: str) -> Component:
    """The embedded moto server; restarted from its snapshot (saved when it stops, and each minute)."""
    command = [sys.executable, "-m", "users.iam.embedded", "--port", str(port), "--snapshot", snapshot]
    return Component("iam", "The embedded IAM backend", command, ready_line="ready on")


WORKER = Component("worker", "The Celery worker", [
    sys.executable, "-m", "celery", "-A", "iamconsole", "worker",
    "--loglevel", "INFO", "--without-gossip", "--without-mingle",
])  # fmt: skip


def web_server(host: str, port: int) -> Component:
    command = [
        sys.executable, "-m", "gunicorn", "iamconsole.wsgi", "--bind", f"{host}:{port}",
        "--workers", "2", "--threads", "4", "--graceful-timeout", "5",
        "--no-control-socket",  # gunicorn 27's is one path per machine user, shared by every instance
    ]  # fmt: skip
    return Component("web", "The web server", command)


def probe_worker(seconds: float) -> str | None:
    """Send the probe task through the broker; the worker answers with the account id."""
    from django.core.cache import cache

    from users.tasks import probe

    key = f"probe:{uuid.uuid4()}"
    probe.delay(key)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if account_id := cast(str | None, cache.get(key)):
            return account_id
        time.sleep(0.3)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    args = parser.parse_args()
    url = f"http://{args.host}:{args.port}"
    if port_in_use(args.host, args.port):
        print(f"Something is already listening on {url}: the console is probably running already.")
        return

    broker = choose_broker()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "iamconsole.settings")
    import django
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    settings.STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise serves from the finders; it wants the folder
    call_command("migrate", interactive=False, verbosity=0)
    login = io.StringIO()
    call_command("ensure_operator", stdout=login)
    print(f"Broker: {broker}")

    supervisor = Supervisor("run")

    def start() -> None:
        if settings.IAM_BACKEND == "embedded":
            if port_in_use("127.0.0.1", settings.EMBEDDED_IAM_PORT):
                raise SystemExit(f"Port {settings.EMBEDDED_IAM_PORT} is taken: set EMBEDDED_IAM_PORT to a free one.")
            supervisor.add(embedded_backend(settings.EMBEDDED_IAM_PORT, str(settings.EMBEDDED_IAM_SNAPSHOT)))
            if not supervisor.wait_ready("iam", 60):
                raise SystemExit("The embedded IAM backend did not start; see its output above.")
        supervisor.add(WORKER, web_server(args.host, args.port))
        if not wait_for_http(f"{url}/health/live/", 30):  # /health/ waits for the worker too
            raise SystemExit("The web server did not start; see its output above.")
        account_id = probe_worker(60)
        print(f"Worker: {'ready' if account_id else 'NOT answering yet (see its output above)'}")
        print(f"\nIAM Console is running on {url}  (IAM backend: {settings.IAM_BACKEND}). Ctrl-C stops it.")
        print(login.getvalue(), flush=True)

    supervisor.run(start)


if __name__ == "__main__":
    main()
