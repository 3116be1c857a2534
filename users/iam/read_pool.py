"""Threads for IAM reads that no request waits for: the refresh of a cached index that a running
job made stale (`IamGateway._cached`), while the request that noticed serves the value it has.

boto3's clients are thread-safe, and a gateway's reads touch neither the database nor the
request; the pool starts its threads on first use, so gunicorn and Celery fork before them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

# One refresh per index at a time (the cache's `:refreshing` flag): a few threads are plenty.
THREADS = 4
log = logging.getLogger(__name__)
_pool = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="iam-refresh")
_lock = threading.Lock()
_background: set[Future[Any]] = set()


def in_background(name: str, work: Callable[[], object]) -> None:
    """Run `work` on the pool with nobody waiting for it: a failure is logged (by `name`) and
    left for the next request to notice."""

    def run() -> None:
        try:
            work()
        except Exception:
            log.warning("A background IAM read failed: %s", name, exc_info=True)

    future = _pool.submit(run)
    with _lock:
        _background.add(future)
    future.add_done_callback(_forget)


def wait_for_background(timeout: float = 30) -> None:
    """Wait until the background work started so far has ended (the tests)."""
    with _lock:
        pending = set(_background)
    wait(pending, timeout=timeout)


def _forget(future: Future[Any]) -> None:
    with _lock:
        _background.discard(future)
