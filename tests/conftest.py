"""Shared fixtures. The IAM side is always moto: in-process `mock_aws` for unit tests, a
moto server for tests/integration and tests/browser. Never a fake of our own gateway."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator

import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.contrib.auth.signals import user_logged_in
from django.core.cache import cache
from django.test import Client
from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.iam.models import iam_backends

from iamconsole import cache_outage
from tests.celery_workers import thread_worker
from users import audit
from users.iam.embedded import fidelity
from users.iam.embedded import server as embedded_server
from users.iam.gateway import IamGateway
from users.roles import OPERATORS, VIEWERS

pytest_plugins = ["tests.oidc_provider.fixtures"]


@pytest.fixture
def operator(django_user_model: type[User]) -> User:
    """Alice, a console operator (she may change IAM); the audit rows name her."""
    alice = django_user_model.objects.create_user("alice", password="correct horse battery staple")
    alice.groups.add(Group.objects.get(name=OPERATORS))
    return alice


def signed_in_client(user: User) -> Client:
    """A test client signed in as `user`. The fixture's sign-in is not audited (it is no
    operator's), so that a test sees only the audit rows of what it does."""
    client = Client()
    user_logged_in.disconnect(dispatch_uid="audit-sign-in")
    try:
        client.force_login(user)
    finally:
        user_logged_in.connect(audit.on_signed_in, dispatch_uid="audit-sign-in")
    return client


@pytest.fixture
def operator_client(operator: User) -> Client:
    """A test client signed in as `operator`."""
    return signed_in_client(operator)


@pytest.fixture
def viewer_client(django_user_model: type[User]) -> Client:
    """A test client signed in as Bob, a viewer: he reads IAM and changes nothing."""
    bob = django_user_model.objects.create_user("bob", password="correct horse battery staple")
    bob.groups.add(Group.objects.get(name=VIEWERS))
    return signed_in_client(bob)


@pytest.fixture
def iam(db: None, operator: User) -> Iterator[IamGateway]:
    """A gateway on moto's in-process IAM, an empty account 123456789012, auditing as `operator`."""
    mock = mock_aws()
    # moto's own reset rebuilds IAM for all six partitions, each loading ~1,600 AWS managed
    # policies (about 1.3 s per test); resetting the one backend we use takes 0.1 s.
    mock.start(reset=False)
    iam_backends[DEFAULT_ACCOUNT_ID]["aws"].reset()
    try:
        yield IamGateway.from_settings(operator=operator)
    finally:
        mock.stop(remove_data=False)
        # New clients per test: no retry quota or event handler outlives a test.
        IamGateway.forget_clients()


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    """Each test starts with an empty cache (cached account info and users index included), and
    with no cache outage remembered from an earlier test."""
    cache.clear()
    cache_outage.end_outage()


@pytest.fixture(scope="session", autouse=True)
def moto_extensions() -> None:
    """moto with the console's IAM extensions (users/iam/embedded/fidelity.py) in every test, `mock_aws`
    included: they patch moto process-wide, so no result may depend on which tests ran first."""
    fidelity.apply_moto_extensions()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[embedded_server.EmbeddedServer]:
    """The embedded moto server (no snapshot) on a free port, for the whole session. It shares
    moto's in-process state with `mock_aws`: use `iam_server` to start from an empty account."""
    server = embedded_server.start(port=0)
    yield server
    server.stop()


@pytest.fixture
def iam_server(moto_server: embedded_server.EmbeddedServer) -> str:
    """The session's moto server, emptied through POST /moto-api/reset; its endpoint URL."""
    reset = urllib.request.Request(f"{moto_server.url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(reset, timeout=30):
        pass
    return moto_server.url


@pytest.fixture(scope="session")
def redis_client() -> redis.Redis:
    """The tests' own Redis database, flushed once at the start of the run.

    A missing Redis fails the run (never a skip): `make test` starts one when none answers.
    """
    client = redis.Redis.from_url(settings.TEST_REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.fail(f"Redis at {settings.TEST_REDIS_URL} does not answer ({error}); run the tests with `make test`.")
    client.flushdb()
    return client


@pytest.fixture
def redis_cache(settings, redis_client: redis.Redis) -> Iterator[redis.Redis]:
    """The cache (so the one-time store) on the tests' Redis, as in production: shared by the
    views, in-thread workers and worker subprocesses. Only the cache's own keys are cleared,
    before and after: the broker's queues live in the same database. Request it before
    `celery_worker`, so that the worker uses it too."""
    settings.CACHES = {
        "default": {"BACKEND": "iamconsole.redis_cache.ReusingRedisCache", "LOCATION": settings.TEST_REDIS_URL}
    }

    def clear() -> None:
        for key in redis_client.scan_iter(":1:*"):
            redis_client.delete(key)

    clear()
    yield redis_client
    clear()


@pytest.fixture
def celery_worker(redis_client: redis.Redis, iam_server: str, settings) -> Iterator[object]:
    """A real Celery worker (in a thread of this process) consuming from the test Redis,
    with IAM on the moto server."""
    settings.IAM_BACKEND = "endpoint"
    settings.IAM_ENDPOINT_URL = iam_server
    with thread_worker(concurrency=2) as worker:
        yield worker
