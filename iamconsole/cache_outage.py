"""The console while its cache (Redis, which is also the job queue) does not answer.

Two kinds of cache use, two behaviours:

- **What can be read again** (the gateway's cached IAM lists, account info, policy
  descriptions): through `tolerant_cache`, where an unanswered call is a miss, or a write
  dropped, and the pages read IAM directly: slower, and the page frame says why (`notice`).
  After a failure the cache is left alone for OUTAGE_SECONDS (a circuit breaker), so that a
  page does not wait for a connection per cached read.
- **What must not be lost or done twice** (the one-time secret store, the wizard's submission
  lock, the job queue): the default cache, strict. Its errors (`UNAVAILABLE`) reach the view,
  which answers the job queue's 503 page, or reach `StoreUnavailableMiddleware`, whose 503 page
  says that secrets cannot be shown or kept for now. A secret is never dropped silently.

Both have short socket timeouts (settings.CACHES), so that a Redis that does not answer at
all costs a page at most about one second.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import redis.exceptions
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

log = logging.getLogger(__name__)

# A cache that does not answer: Redis stopped, restarting (loading its data), unreachable or
# too slow. Any other error is a bug and stays one.
UNAVAILABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
OUTAGE_SECONDS = 5.0

_lock = threading.Lock()
_outage_until = 0.0  # time.monotonic() until which the cache is taken as down


def record_outage(error: Exception) -> None:
    """Take the cache as down for OUTAGE_SECONDS (logged once per outage)."""
    global _outage_until
    with _lock:
        if not in_outage():
            log.warning("cache unavailable (%s): reading IAM without it for %s s", type(error).__name__, OUTAGE_SECONDS)
        _outage_until = time.monotonic() + OUTAGE_SECONDS


def in_outage() -> bool:
    """Whether a cache call failed less than OUTAGE_SECONDS ago."""
    return time.monotonic() < _outage_until


def end_outage() -> None:
    """Forget any recorded outage and the increments it dropped (tests)."""
    global _outage_until
    _outage_until = 0.0
    tolerant_cache._dropped_increments.clear()


class TolerantCache:
    """The default cache for values that can be read again: while it does not answer, `get` is
    a miss and `set` does nothing; `incr` raises ValueError, as for a missing key, and is made
    once the cache answers again. The gateway's increments move its cached reads to a new
    generation after a change: dropped, the values cached before the outage would be served
    again afterwards, as if the change had not happened."""

    def __init__(self) -> None:
        self._dropped_increments: set[str] = set()

    def _call(self, operation: Callable[[], Any], fallback: Callable[[], Any]) -> Any:
        if in_outage():
            return fallback()
        try:
            self._replay_increments()
            return operation()
        except UNAVAILABLE as error:
            record_outage(error)
            return fallback()

    def _replay_increments(self) -> None:
        while self._dropped_increments:
            with _lock:
                key = self._dropped_increments.pop() if self._dropped_increments else None
            if key is None:
                return
            try:
                cache.incr(key)
            except ValueError:  # expired or evicted since: any new value will do
                cache.set(key, 1, None)
            except UNAVAILABLE:
                with _lock:
                    self._dropped_increments.add(key)
                raise

    def get(self, key: str, default: Any = None) -> Any:
        return self._call(lambda: cache.get(key, default), lambda: default)

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        return dict(self._call(lambda: cache.get_many(keys), dict))

    def set(self, key: str, value: Any, timeout: float | None) -> None:
        self._call(lambda: cache.set(key, value, timeout), lambda: None)

    def set_many(self, values: dict[str, Any], timeout: float | None) -> None:
        self._call(lambda: cache.set_many(values, timeout), lambda: None)

    def add(self, key: str, value: Any, timeout: float | None) -> bool:
        """Set `key` unless it is set; True when it was (and, while the cache does not answer,
        always: the caller goes on as if it held the key)."""
        return bool(self._call(lambda: cache.add(key, value, timeout), lambda: True))

    def delete(self, key: str) -> None:
        self._call(lambda: cache.delete(key), lambda: None)

    def incr(self, key: str) -> int:
        def missing() -> int:
            with _lock:
                self._dropped_increments.add(key)
            raise ValueError(f"cache unavailable: {key!r} not incremented yet")

        return int(self._call(lambda: cache.incr(key), missing))

    def get_or_set(self, key: str, default: Callable[[], Any], timeout: float | None) -> Any:
        value = self.get(key)
        if value is None:
            value = default()
            self.set(key, value, timeout)
        return value


tolerant_cache = TolerantCache()


def notice(request: HttpRequest) -> dict[str, Any]:
    """Context processor: `cache_unavailable` while the cache is taken as down (the page frame
    says that pages are slower and that jobs and secrets wait for it). After the processors that
    read through the cache, so that the page that met the outage says so."""
    return {"cache_unavailable": in_outage()}


class StoreUnavailableMiddleware:
    """A strict cache call that found Redis down (the one-time secret store): 503 saying so,
    rather than a 500 page. Nothing was shown, and nothing was kept."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, UNAVAILABLE):
            return None
        record_outage(exception)
        return render(request, "store_unavailable.html", status=503)
