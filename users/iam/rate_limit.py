"""A rate limit on IAM requests shared by every job worker, process and host, through Redis, that
adapts to IAM's own: IAM throttles an account's requests above a rate it does not publish.

One token bucket per IAM account (endpoint and role), held in a Redis hash and changed only by
one Lua script, so that its steps are atomic whichever worker runs them:

- **take**: before every attempt the SDK sends (its retries included), a worker takes a token,
  or reserves the next one and sleeps until it is due (`time.sleep`, which a Celery time limit
  interrupts in the task's thread). Reservations are served in order, at the bucket's rate, at most
  BURST_SECONDS of it held while nobody asks.
- **throttled**: when IAM answers an attempt `Throttling`, the shared rate is cut to DECREASE
  times itself (never below the floor), at once for every worker. Only once per round: an
  attempt that took its token before the last cut was sent at the old rate and cuts nothing
  (the bucket's *epoch* counts the cuts).
- Each token taken raises the rate by INCREASE / rate: INCREASE requests/s per second of calls
  without throttling, up to the ceiling (IAM_RATE_LIMIT), where a new bucket starts. An idle
  bucket keeps its rate (nothing shows that IAM's rose) until STATE_SECONDS forget it.
- **lease**: a worker process takes LEASE_SECONDS' worth of tokens at a time (at most
  LEASE_MAX, one at low rates) and hands them to its threads, so that a high rate does not cost
  a Redis round trip per request; a lease not used up within LEASE_SECONDS, or met by a
  throttle, is dropped (a little less than the rate is then used).

A Redis that does not answer, or refuses the script (out of memory, a read-only replica), lets
calls through unlimited, and is left alone for a while (the circuit breaker of
iamconsole/cache_outage.py): the limit saves calls and does not guard anything.

The gateway registers `instrument`'s handlers on its IAM clients, and its calls run inside
`limiting(limiter)`; other gateways' calls on the same clients are not limited.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import redis
from django.conf import settings

from iamconsole import cache_outage

if TYPE_CHECKING:
    from botocore.client import BaseClient

# The cut on a throttled round, and the rise per second of calls without throttling (requests/s).
DECREASE = 0.8
INCREASE = 1.0
# Tokens held while nobody asks: this many seconds at the current rate (at least one token).
BURST_SECONDS = 0.25
# A bucket unused this long is forgotten: the next one starts at the ceiling.
STATE_SECONDS = 3600
# A process's lease: this many seconds of the rate, at most LEASE_MAX tokens.
LEASE_SECONDS = 0.02
LEASE_MAX = 8
# IAM's answers to a request over its rate (those of the gateway's `Throttled`).
THROTTLING_CODES = frozenset({"Throttling", "ThrottlingException", "RequestLimitExceeded"})

# KEYS[1]: the bucket. ARGV: "take", "throttled" or "peek"; now (seconds, or "" for Redis's clock);
# ceiling; floor; the epoch of the throttled attempt's token ("throttled"); DECREASE; INCREASE;
# BURST_SECONDS; STATE_SECONDS; the tokens to take ("take"). Returns {seconds to wait for the
# last token taken, epoch, rate} (floats as strings: Redis would truncate Lua numbers).
SCRIPT = """
local key, mode = KEYS[1], ARGV[1]
local now = tonumber(ARGV[2])
if not now then
  local time = redis.call('TIME')
  now = tonumber(time[1]) + tonumber(time[2]) / 1000000
end
local ceiling, floor = tonumber(ARGV[3]), tonumber(ARGV[4])
local decrease, increase, burst_seconds = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local state = redis.call('HMGET', key, 'tokens', 'at', 'rate', 'epoch')
local tokens, at, rate, epoch = 1, now, ceiling, 0
if state[1] then
  tokens, at, rate, epoch = tonumber(state[1]), tonumber(state[2]), tonumber(state[3]), tonumber(state[4])
end
rate = math.max(floor, math.min(ceiling, rate))
tokens = math.min(math.max(1, rate * burst_seconds), tokens + rate * math.max(0, now - at))
at = math.max(at, now)
local wait = 0
if mode == 'take' then
  local count = tonumber(ARGV[10])
  tokens = tokens - count
  if tokens < 0 then wait = -tokens / rate end
  rate = math.min(ceiling, rate + count * increase / rate)
elseif mode == 'throttled' and tonumber(ARGV[5]) == epoch then
  rate, epoch = math.max(floor, decrease * rate), epoch + 1
  tokens = math.min(tokens, 0)
end
if mode ~= 'peek' then
  redis.call('HSET', key, 'tokens', tokens, 'at', at, 'rate', rate, 'epoch', epoch)
  redis.call('EXPIRE', key, ARGV[9])
end
return {tostring(wait), epoch, tostring(rate)}
"""


@dataclass(frozen=True)
class Reply:
    """The script's answer: seconds to wait for the token taken, the bucket's epoch, its rate."""

    wait: float
    epoch: int
    rate: float


@dataclass
class _Lease:
    """Tokens a process took from the bucket and hands out until `until`."""

    tokens: int = 0
    until: float = 0.0
    epoch: int = 0
    rate: float = 0.0  # the bucket's rate when it was taken (0: none taken yet)


class RateLimiter:
    """The shared bucket `key` on `client`'s Redis, between `floor` and `ceiling` requests/s.

    `clock` (seconds) is Redis's own by default, one clock for every host; tests give theirs,
    and a `sleep` that does not wait. `lease_seconds` (LEASE_SECONDS for the workers; 0: none)
    lets this process take several tokens at a time."""

    def __init__(
        self,
        client: redis.Redis,
        key: str,
        *,
        ceiling: float,
        floor: float,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        lease_seconds: float = 0.0,
    ) -> None:
        if not 0 < floor <= ceiling:
            raise ValueError(f"the rate limit needs 0 < floor <= ceiling, not {floor} and {ceiling}")
        self.key, self.ceiling, self.floor = key, ceiling, floor
        self._redis, self._script = client, client.register_script(SCRIPT)
        self._clock, self._sleep = clock, sleep
        self._attempt = threading.local()  # the epoch of the token this thread took last
        self.lease_seconds = lease_seconds
        self._local_clock = clock or time.monotonic  # for the lease: this process's own
        self._lease = _Lease()
        self._lease_lock = threading.Lock()

    def acquire(self) -> None:
        """Take a token, from this process's lease or from the bucket, sleeping until it is due."""
        with self._lease_lock:
            lease = self._lease
            if lease.tokens and lease.until > self._local_clock():
                lease.tokens -= 1
                self._attempt.epoch = lease.epoch
                return
            count = max(1, min(LEASE_MAX, int(lease.rate * self.lease_seconds)))
            reply = self._run("take", count=count)
            self._attempt.epoch = None if reply is None else reply.epoch
            if reply is not None:
                until = self._local_clock() + reply.wait + self.lease_seconds
                self._lease = _Lease(count - 1, until, reply.epoch, reply.rate)
        if reply is not None and reply.wait > 0:
            self._sleep(reply.wait)

    def throttled(self) -> None:
        """IAM throttled the attempt this thread last took a token for: cut the rate, unless
        it was cut since that token was taken."""
        epoch = getattr(self._attempt, "epoch", None)
        if epoch is not None:
            with self._lease_lock:
                self._lease = _Lease()
            self._run("throttled", epoch)

    def rate(self) -> float | None:
        """The shared rate now, in requests/s (None while Redis does not answer)."""
        reply = self._run("peek")
        return None if reply is None else reply.rate

    def reset(self) -> None:
        """Forget the bucket: the next token starts a new one, at the ceiling."""
        self._redis.delete(self.key)

    def _run(self, mode: str, epoch: int = -1, count: int = 1) -> Reply | None:
        if cache_outage.in_outage():
            return None
        now = "" if self._clock is None else repr(self._clock())
        args: list[str | int | float] = [
            mode,
            now,
            self.ceiling,
            self.floor,
            epoch,
            DECREASE,
            INCREASE,
            BURST_SECONDS,
            STATE_SECONDS,
            count,
        ]
        try:
            wait, bucket_epoch, rate = self._script(keys=[self.key], args=args)
        except redis.RedisError as error:
            cache_outage.record_outage(error)
            return None
        return Reply(float(wait), int(bucket_epoch), float(rate))


# --- The configured limiter, and the gateway's hooks ----------------------------------------

_LIMITERS: dict[tuple[Any, ...], RateLimiter] = {}
_LOCK = threading.Lock()
_ACTIVE: ContextVar[RateLimiter | None] = ContextVar("iam_rate_limiter", default=None)


def from_settings() -> RateLimiter | None:
    """The limiter on REDIS_URL for the configured IAM account, one per process and
    configuration; None without IAM_RATE_LIMIT or without Redis."""
    if not settings.IAM_RATE_LIMIT or not settings.REDIS_URL:
        return None
    key = f"iam-rate-limit:{settings.IAM_ENDPOINT_URL}:{settings.IAM_ASSUME_ROLE_ARN}"
    config = (settings.REDIS_URL, key, settings.IAM_RATE_LIMIT, settings.IAM_RATE_LIMIT_FLOOR)
    with _LOCK:
        if config not in _LIMITERS:
            # The cache's short timeouts (settings.CACHES): a Redis that does not answer costs
            # one call about a second, then the circuit breaker skips it.
            client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=0.5, socket_timeout=1.0)
            ceiling, floor = settings.IAM_RATE_LIMIT, settings.IAM_RATE_LIMIT_FLOOR
            _LIMITERS[config] = RateLimiter(client, key, ceiling=ceiling, floor=floor, lease_seconds=LEASE_SECONDS)
        return _LIMITERS[config]


@contextmanager
def limiting(limiter: RateLimiter | None) -> Iterator[None]:
    """Calls made in the block (in this thread) on an instrumented client wait for `limiter`
    at every attempt (None: they do not)."""
    token = _ACTIVE.set(limiter)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def instrument(client: BaseClient) -> None:
    """Register the limiter's handlers on `client`; a second time is a no-op (unique ids)."""
    service = client.meta.service_model.service_id.hyphenize()
    events = client.meta.events
    # Before any other before-send handler: moto's in-process one answers the attempt.
    events.register_first(f"before-send.{service}", _before_send, unique_id="iamconsole-rate-limit")
    # Every handler of needs-retry is called, after every attempt, the last one included.
    events.register(f"needs-retry.{service}", _after_attempt, unique_id="iamconsole-rate-limit-throttled")


def _before_send(**kwargs: Any) -> None:
    limiter = _ACTIVE.get()
    if limiter is not None:
        limiter.acquire()


def _after_attempt(response: tuple[Any, dict[str, Any]] | None = None, **kwargs: Any) -> None:
    limiter = _ACTIVE.get()
    if limiter is not None and response is not None and response[1].get("Error", {}).get("Code") in THROTTLING_CODES:
        limiter.throttled()
