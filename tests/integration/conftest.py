"""Integration fixtures: the tests' own Redis database and a real Celery worker."""

from __future__ import annotations

from typing import Iterator

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from django.conf import settings

from iamconsole.celery import app


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
def celery_worker(redis_client: redis.Redis, iam_server: str, settings) -> Iterator[object]:
    """A real Celery worker (in a thread of this process) consuming from the test Redis,
    with IAM on the moto server."""
    settings.IAM_BACKEND = "endpoint"
    settings.IAM_ENDPOINT_URL = iam_server
    assert app.conf.broker_url == settings.TEST_REDIS_URL
    with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False, shutdown_timeout=10) as worker:
        yield worker
