"""Open health checks for load balancers, docker compose and `make run`.

`/health/` (readiness) asks each dependency the console needs: the database, the Celery broker,
a worker (a ping through the broker: the first answer is enough; a missed ping counts only once
no worker has answered for WORKER_GRACE_SECONDS), the cache and IAM. The checks
run in parallel threads, all bounded by CHECK_SECONDS, and their report is kept CACHE_SECONDS in
process memory (not in the cache: Redis may be what is down), so a load balancer polling every
few seconds costs next to nothing. 200 when every check is "ok", else 503; a check that failed
says "down: " and a fixed phrase or the error's class name, never its message (which can name
hosts and users). `/health/live/` (liveness) checks nothing: the process answers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from iamconsole.celery import app
from users.iam.errors import IamError
from users.iam.gateway import IamGateway

log = logging.getLogger(__name__)

CHECK_SECONDS = 2  # all checks together (they run in parallel)
CACHE_SECONDS = 5.0  # a report is served this long before the next checks
OK = "ok"
# A connection and each answer on it: half the bound, so that the worker ping fits after it.
STEP_SECONDS = CHECK_SECONDS // 2
WORKER_GRACE_SECONDS = 20.0
REDIS_TIMEOUTS = {"socket_connect_timeout": STEP_SECONDS, "socket_timeout": STEP_SECONDS}


def _down(error: Exception) -> str:
    return f"down: {error.code if isinstance(error, IamError) else type(error).__name__}"


def _database() -> dict[str, str]:
    """SELECT 1 on this check thread's own connection, closed afterwards (the thread ends)."""
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        connections.close_all()
    return {"database": OK}


def _queue() -> dict[str, str]:
    """The broker (one connection, as `jobs.check_queue`), then a ping to the workers through it."""
    with app.connection_for_write(transport_options=REDIS_TIMEOUTS) as connection:
        try:
            connection.ensure_connection(max_retries=1, interval_start=0, timeout=STEP_SECONDS)
        except Exception as error:
            return {"broker": _down(error), "workers": "down: broker unavailable"}
        try:
            replies = app.control.ping(timeout=STEP_SECONDS, limit=1, connection=connection)
        except Exception as error:
            return {"broker": OK, "workers": _down(error)}
    return {"broker": OK, "workers": OK if _workers_answered(bool(replies)) else "down: no worker answered"}


_worker_answered_at = float("-inf")  # time.monotonic() of this process's last answered ping


def _workers_answered(now: bool) -> bool:
    """A worker answered now, or less than WORKER_GRACE_SECONDS ago: a worker busy on a loaded
    machine can miss one ping's second, and a load balancer must not take every web instance out
    for it. A worker that is really gone is reported once the grace has passed."""
    global _worker_answered_at
    if now:
        _worker_answered_at = time.monotonic()
    return time.monotonic() - _worker_answered_at < WORKER_GRACE_SECONDS


def _cache() -> dict[str, str]:
    """A read from the cache (the one-time secret store lives there); a miss is an answer."""
    cache.get("health:probe")
    return {"cache": OK}


def _iam() -> dict[str, str]:
    IamGateway.check_reachable(STEP_SECONDS)
    return {"iam": OK}


# Each check, by the names it reports.
CHECKS: dict[tuple[str, ...], Callable[[], dict[str, str]]] = {
    ("database",): _database,
    ("broker", "workers"): _queue,
    ("cache",): _cache,
    ("iam",): _iam,
}


def _run_checks() -> dict[str, str]:
    """Every check in its own daemon thread, for CHECK_SECONDS at most: a check still running
    then is reported as down and left to end on its own timeouts."""
    results: dict[str, str] = {}
    lock = threading.Lock()

    def run(names: tuple[str, ...], check: Callable[[], dict[str, str]]) -> None:
        try:
            outcome = check()
        except Exception as error:  # whatever fails, the check says "down", never a 500 page
            outcome = dict.fromkeys(names, _down(error))
        with lock:
            results.update(outcome)

    threads = [
        threading.Thread(target=run, args=(names, check), name=f"health-{names[0]}", daemon=True)
        for names, check in CHECKS.items()
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + CHECK_SECONDS
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    late = f"down: no answer within {CHECK_SECONDS} s"
    with lock:
        return {name: results.get(name, late) for names in CHECKS for name in names}


@dataclass(frozen=True)
class _Report:
    checks: dict[str, str]
    at: float  # time.monotonic() when the checks ended


_lock = threading.Lock()
_latest: _Report | None = None


def _report() -> _Report:
    """The latest report, or new checks once it is CACHE_SECONDS old. One thread checks at a
    time; the others wait for its report. A check's change of state is logged."""
    global _latest
    with _lock:
        previous = _latest
        if previous is not None and time.monotonic() - previous.at < CACHE_SECONDS:
            return previous
        report = _latest = _Report(_run_checks(), time.monotonic())
        for name, state in report.checks.items():
            if state != (previous.checks.get(name) if previous else OK):
                (log.info if state == OK else log.warning)("readiness: %s is %s", name, state)
        return report


@login_not_required
@never_cache
def readiness(request: HttpRequest) -> JsonResponse:
    """200 when the console can serve (every check "ok"), else 503 naming what is down."""
    checks = _report().checks
    ready = all(state == OK for state in checks.values())
    body = {"status": "ok" if ready else "unavailable", "checks": checks}
    return JsonResponse(body, status=200 if ready else 503)


@login_not_required
@never_cache
def liveness(request: HttpRequest) -> JsonResponse:
    """The process answers; nothing else is asked (restarting it would not bring a dependency back)."""
    return JsonResponse({"status": "ok"})
