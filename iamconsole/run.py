"""`make run`: the whole console on one machine, in one terminal.

Chooses a broker (REDIS_URL, else a Redis answering on 127.0.0.1:6379, else kombu's
filesystem transport), migrates, creates a first operator, then starts the embedded
IAM backend, a Celery worker and the web server as child processes. Ctrl-C (or
SIGTERM) stops them all; the embedded backend saves its state on the way out. A second
signal (Ctrl-C twice; make forwards SIGTERM) does not interrupt the stop.

The broker is chosen here, before Django reads its settings, because the settings
and every child process read REDIS_URL from the environment.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from typing import IO, Any, cast

LOCAL_REDIS = "redis://127.0.0.1:6379/0"


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


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


def echo(stream: IO[str], prefix: str) -> None:
    for line in stream:
        sys.stdout.write(f"{prefix}{line}")


def start_embedded(port: int, snapshot: str) -> subprocess.Popen[str]:
    """Start the embedded moto server and wait for its ready line."""
    process = spawn(
        [sys.executable, "-m", "users.iam.embedded", "--port", str(port), "--snapshot", snapshot],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        sys.stdout.write(f"[iam] {line}")
        if "ready on" in line:
            threading.Thread(target=echo, args=(process.stdout, "[iam] "), daemon=True).start()
            return process
    raise SystemExit(f"The embedded IAM backend did not start (exit code {process.wait()}).")


def wait_for_http(url: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.3)
    return False


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


STOPPING = threading.Event()
STOP_SECONDS = 20  # for the children to stop, all together, before they are killed


def interrupt(signum: int, frame: object) -> None:
    """The first SIGINT, SIGTERM or SIGHUP interrupts the start or the wait; any later one (Ctrl-C
    twice; a service manager's SIGTERM that make forwards too) is ignored: stopping is under way."""
    if not STOPPING.is_set():
        STOPPING.set()
        raise KeyboardInterrupt


def spawn(command: list[str], **options: Any) -> subprocess.Popen[str]:
    """A child in its own process group, so that stopping it stops its own children too
    (gunicorn's and Celery's workers) and Ctrl-C reaches only us: we stop them in order."""
    # Popen's overloads cannot tell text mode from `options`: callers that read the output pass text=True.
    return cast("subprocess.Popen[str]", subprocess.Popen(command, start_new_session=True, **options))


def stop(processes: list[subprocess.Popen[str]]) -> None:
    """Stop every child, then kill whatever of its process group is left after STOP_SECONDS.
    Called once STOPPING is set, so that no signal interrupts it."""
    for process in reversed(processes):
        if process.poll() is None:
            process.terminate()  # the leader shuts its own workers down gracefully
    deadline = time.monotonic() + STOP_SECONDS
    for process in reversed(processes):
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # whatever of its group is left
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)


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

    processes: list[subprocess.Popen[str]] = []
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGHUP, interrupt)
    signal.signal(signal.SIGINT, interrupt)  # even when started with SIGINT ignored (in the background)
    # The inner `finally` sets STOPPING however the start or the wait ends: from then on signals are
    # ignored, and a signal that comes before it raises inside the outer `try`, so stop() always runs whole.
    try:
        try:
            if settings.IAM_BACKEND == "embedded":
                if port_in_use("127.0.0.1", settings.EMBEDDED_IAM_PORT):
                    raise SystemExit(
                        f"Port {settings.EMBEDDED_IAM_PORT} is taken: set EMBEDDED_IAM_PORT to a free one."
                    )
                processes.append(start_embedded(settings.EMBEDDED_IAM_PORT, str(settings.EMBEDDED_IAM_SNAPSHOT)))
            worker = [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "iamconsole",
                "worker",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
            ]
            processes.append(spawn(worker))
            web = [
                sys.executable,
                "-m",
                "gunicorn",
                "iamconsole.wsgi",
                "--bind",
                f"{args.host}:{args.port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--graceful-timeout",
                "5",
            ]
            processes.append(spawn(web))
            if not wait_for_http(f"{url}/health/live/", 30):  # /health/ waits for the worker too
                raise SystemExit("The web server did not start; see its output above.")
            account_id = probe_worker(60)
            print(f"Worker: {'ready' if account_id else 'NOT answering yet (see its output above)'}")
            print(f"\nIAM Console is running on {url}  (IAM backend: {settings.IAM_BACKEND}). Ctrl-C stops it.")
            print(login.getvalue(), flush=True)
            while all(process.poll() is None for process in processes):
                time.sleep(0.5)
            print("A component stopped; stopping the others.")
        finally:
            STOPPING.set()
    except KeyboardInterrupt:
        print("\nStopping…")
    finally:
        stop(processes)


if __name__ == "__main__":
    main()
