"""The call counter: IAM/STS operations and HTTP attempts, counted from botocore's events.

Tests and benchmarks read it (`CALLS.measure()`); the gateway instruments its clients with it.
It only registers handlers on a client it is given, so it imports no boto3.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.client import BaseClient


class _Counts:
    """Calls (`by_operation`) and HTTP attempts, retries included (`attempts_by_operation`),
    from a pair of counters that subclasses provide."""

    def _counters(self) -> tuple[Counter[str], Counter[str]]:
        raise NotImplementedError

    @property
    def by_operation(self) -> Counter[str]:
        return self._counters()[0]

    @property
    def attempts_by_operation(self) -> Counter[str]:
        return self._counters()[1]

    @property
    def total(self) -> int:
        return self.by_operation.total()

    @property
    def attempts(self) -> int:
        return self.attempts_by_operation.total()


class CallCounter(_Counts):
    """IAM/STS API operations and HTTP attempts made by the gateway's clients in every thread
    of this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()
        self._attempts: Counter[str] = Counter()

    def _counters(self) -> tuple[Counter[str], Counter[str]]:
        with self._lock:
            return Counter(self._calls), Counter(self._attempts)

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._attempts.clear()

    @contextmanager
    def measure(self) -> Iterator[Measurement]:
        """Count the calls made inside the block (by any thread)."""
        measurement = Measurement(self)
        try:
            yield measurement
        finally:
            measurement.stop()

    def _count_call(self, event_name: str, **kwargs: Any) -> None:
        with self._lock:
            self._calls[event_name.rpartition(".")[2]] += 1

    def _count_attempt(self, event_name: str, **kwargs: Any) -> None:
        with self._lock:
            self._attempts[event_name.rpartition(".")[2]] += 1

    def instrument(self, client: BaseClient) -> None:
        """Count `client`'s calls; registering twice is a no-op (unique ids)."""
        service = client.meta.service_model.service_id.hyphenize()
        events = client.meta.events
        events.register(f"before-call.{service}", self._count_call, unique_id="iamconsole-calls")
        # request-created fires once per attempt, even when a before-send handler (moto,
        # a fault injection) answers instead of the network.
        events.register(f"request-created.{service}", self._count_attempt, unique_id="iamconsole-attempts")


class Measurement(_Counts):
    """What a `CallCounter` counted between the start of a `measure()` block and its end."""

    def __init__(self, counter: CallCounter) -> None:
        self._counter = counter
        self._start = counter._counters()
        self._end: tuple[Counter[str], Counter[str]] | None = None

    def stop(self) -> None:
        self._end = self._counter._counters()

    def _counters(self) -> tuple[Counter[str], Counter[str]]:
        end = self._end or self._counter._counters()
        return end[0] - self._start[0], end[1] - self._start[1]


CALLS = CallCounter()
