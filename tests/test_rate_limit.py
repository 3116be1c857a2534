"""The IAM rate limit shared by job workers (users/iam/rate_limit.py), on the tests' real Redis,
with a clock and a sleep of the test's own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from django.conf import settings as django_settings
from django.contrib.auth.models import User

from iamconsole import cache_outage
from tests.faults import inject, instant_retries
from users.iam import rate_limit
from users.iam.gateway import IamGateway
from users.iam.rate_limit import RateLimiter

KEY = "iam-rate-limit:test"


class Clock:
    """A clock that moves only when told, and a sleep that records instead of waiting."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def redis_url(redis_client: redis.Redis) -> Iterator[str]:
    """The tests' Redis, without any rate limit's bucket, before and after."""

    def clear() -> None:
        for key in redis_client.scan_iter("iam-rate-limit:*"):
            redis_client.delete(key)

    clear()
    yield django_settings.TEST_REDIS_URL
    clear()


def limiter(url: str, clock: Clock, *, ceiling: float = 10.0, floor: float = 1.0) -> RateLimiter:
    """A limiter on its own Redis connection: another worker process."""
    return RateLimiter(redis.Redis.from_url(url), KEY, ceiling=ceiling, floor=floor, clock=clock, sleep=clock.sleep)


def test_workers_share_the_tokens(redis_url: str, clock: Clock) -> None:
    one, two = limiter(redis_url, clock), limiter(redis_url, clock)

    one.acquire()  # a new bucket holds one token
    two.acquire()
    one.acquire()
    clock.now += 0.25  # the three reserved tokens are due, and nothing more
    two.acquire()

    assert clock.sleeps == [pytest.approx(0.1), pytest.approx(0.2), pytest.approx(0.05)]
    assert one.rate() == two.rate() == 10.0  # at the ceiling


def test_a_throttled_attempt_cuts_the_rate_for_every_worker_once_per_round(redis_url: str, clock: Clock) -> None:
    one, two = limiter(redis_url, clock), limiter(redis_url, clock)
    one.acquire()
    two.acquire()  # sent at the same rate as one's

    one.throttled()
    assert two.rate() == pytest.approx(8.0)
    two.throttled()  # its token was taken before the cut: the same round
    assert one.rate() == pytest.approx(8.0)

    two.acquire()
    two.throttled()  # taken after the cut: the new rate is still too high
    assert one.rate() == pytest.approx((8.0 + 1 / 8.0) * 0.8)


def test_a_throttled_cut_drops_the_tokens_saved_up(redis_url: str, clock: Clock) -> None:
    one = limiter(redis_url, clock)
    one.acquire()
    clock.now += 10  # the bucket fills up: 2.5 tokens

    one.acquire()
    one.throttled()  # IAM has none left: ours were not real
    one.acquire()

    assert clock.sleeps == [pytest.approx(1 / 8.0)]


def test_the_rate_rises_without_throttling_up_to_the_ceiling(redis_url: str, clock: Clock) -> None:
    one = limiter(redis_url, clock, ceiling=10.0)
    one.acquire()
    for _ in range(5):
        one.throttled()
        one.acquire()
    cut = one.rate()
    assert cut is not None and cut == pytest.approx(4.0, abs=0.1)
    clock.now += 10  # the debt of those calls is paid: no call waits below
    clock.sleeps.clear()

    def calls_for(seconds: float) -> None:
        """Calls at the rate, each when its token is due."""
        start = clock.now
        while clock.now < start + seconds:
            clock.now += 1.01 / (one.rate() or 1)
            one.acquire()

    calls_for(2.0)
    assert one.rate() == pytest.approx(cut + 2.0, abs=0.3)  # 1 request/s per second of calls
    calls_for(20.0)
    assert one.rate() == 10.0
    assert not clock.sleeps


def test_an_idle_bucket_keeps_its_rate(redis_url: str, clock: Clock) -> None:
    one = limiter(redis_url, clock)
    one.acquire()
    one.throttled()

    clock.now += 600

    assert one.rate() == pytest.approx(8.0)


def test_the_rate_never_falls_below_the_floor(redis_url: str, clock: Clock) -> None:
    one = limiter(redis_url, clock, ceiling=10.0, floor=5.0)

    for _ in range(10):
        one.acquire()
        one.throttled()

    assert one.rate() == 5.0


def test_it_refuses_a_floor_above_the_ceiling(redis_url: str, clock: Clock) -> None:
    with pytest.raises(ValueError):
        limiter(redis_url, clock, ceiling=5.0, floor=10.0)
    with pytest.raises(ValueError):
        limiter(redis_url, clock, ceiling=5.0, floor=0.0)


def test_a_new_bucket_starts_at_the_ceiling(redis_url: str, clock: Clock) -> None:
    one = limiter(redis_url, clock)
    one.acquire()
    one.throttled()

    one.reset()

    assert one.rate() == 10.0


def test_without_redis_calls_pass_unlimited(clock: Clock) -> None:
    down = RateLimiter(
        redis.Redis.from_url("redis://127.0.0.1:1/0"), KEY, ceiling=1.0, floor=1.0, clock=clock, sleep=clock.sleep
    )

    for _ in range(5):
        down.acquire()
        down.throttled()

    assert not clock.sleeps
    assert down.rate() is None
    assert cache_outage.in_outage()  # taken as down: the next calls do not try it


def test_a_rate_limited_gateway_waits_at_every_attempt(iam: IamGateway, operator: User, redis_url: str) -> None:
    clock = Clock()
    one = limiter(redis_url, clock)
    limited = IamGateway(*iam.clients, operator=operator, limiter=one)

    with instant_retries(), inject(limited, "CreateUser", "Throttling", times=2) as fault:
        limited.create_user("alice")  # the SDK sends it three times
    iam.list_users()  # the same clients, without the limiter
    iam.create_user("bob")

    assert fault.hits == 2
    # The first token was in the bucket; each throttled attempt cut the rate before the next.
    assert clock.sleeps == [pytest.approx(1 / 8.0), pytest.approx(2 / ((8.0 + 1 / 8.0) * 0.8))]
    assert one.rate() == pytest.approx(6.5 + 1 / 6.5)
    assert [user.name for user in limited.list_users()] == ["alice", "bob"]
    assert len(clock.sleeps) == 3  # list_users above: waited too (the bucket is in debt)


def test_the_configured_limiter_is_shared_by_the_job_gateways(
    iam: IamGateway, redis_client: redis.Redis, redis_url: str, settings
) -> None:
    settings.REDIS_URL, settings.IAM_RATE_LIMIT = redis_url, 50.0
    gateway = IamGateway.from_settings(rate_limited=True)
    configured = rate_limit.from_settings()
    assert configured is not None

    gateway.list_users()

    assert redis_client.hget(configured.key, "epoch") == b"0"  # a bucket: the call took a token
    assert configured.rate() == 50.0  # on Redis's clock
    assert configured.key == f"iam-rate-limit:{settings.IAM_ENDPOINT_URL}:{settings.IAM_ASSUME_ROLE_ARN}"
    assert configured is rate_limit.from_settings()
    settings.IAM_RATE_LIMIT = 0
    assert rate_limit.from_settings() is None


def test_a_process_leases_tokens_at_a_high_rate_and_drops_the_lease_when_throttled(
    redis_url: str, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 400 requests/s a lease of 0.02 s is 8 tokens: one script call for 8 requests, the
    other process sees them taken; a throttle drops what is left of the lease."""
    one = RateLimiter(
        redis.Redis.from_url(redis_url), KEY, ceiling=400, floor=1, clock=clock, sleep=clock.sleep, lease_seconds=0.02
    )
    other = limiter(redis_url, clock, ceiling=400)
    calls: list[str] = []
    run = one._run

    def counted(mode: str, *args: int, **kwargs: int) -> rate_limit.Reply | None:
        calls.append(mode)
        return run(mode, *args, **kwargs)

    monkeypatch.setattr(one, "_run", counted)
    one.acquire()  # the first: the rate is not known yet, one token
    clock.now += 1.0  # the bucket fills again (100 tokens held at most)
    for _ in range(8):
        one.acquire()
    assert calls == ["take", "take"]  # the second took 8, and 7 were handed out from the lease
    clock.now += 0.25
    other.acquire()
    assert clock.sleeps == []  # tokens were left for the other process
    one.throttled()
    one.acquire()
    assert calls == ["take", "take", "throttled", "take"]  # the lease's last token dropped
