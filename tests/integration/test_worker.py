"""The task path end to end: producer → Redis → a real worker → the gateway → moto."""

from __future__ import annotations

import time
import uuid

import pytest
from django.core.cache import cache

from users.tasks import probe

pytestmark = pytest.mark.integration


def test_it_runs_a_task_through_redis_on_a_real_worker(celery_worker, redis_client) -> None:
    key = f"probe:{uuid.uuid4()}"
    probe.delay(key)
    deadline = time.monotonic() + 20
    while cache.get(key) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert cache.get(key) == "123456789012"
