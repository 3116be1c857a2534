"""A real Celery worker in threads of the test process (tests/conftest.py's `celery_worker`,
and the bulk-import tests), and waiting for a job that workers run."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.conf import settings
from django.db import OperationalError, connections

from iamconsole.celery import app
from users import job_items
from users.models import Job


@contextmanager
def thread_worker(*, concurrency: int) -> Iterator[object]:
    """A real Celery worker in `concurrency` threads of this process, on the tests' Redis.

    The pool's threads end without closing their database connections, which would keep the
    test database from being dropped: each is closed after its task (a prefork child's closes
    with its process)."""
    # The URLs a worker reads and writes (a test that left one on another broker would have
    # this worker retry its connection for ever).
    assert app.conf.broker_read_url == app.conf.broker_write_url == settings.TEST_REDIS_URL
    task_postrun.connect(_close_thread_connections, weak=False)
    try:
        with start_worker(
            app, pool="threads", concurrency=concurrency, perform_ping_check=False, shutdown_timeout=10
        ) as worker:
            yield worker
    finally:
        task_postrun.disconnect(_close_thread_connections)


def _close_thread_connections(**kwargs: object) -> None:
    connections.close_all()


def wait_until_finished(job: Job, timeout: float = 20) -> None:
    """Until no item of `job` is queued or running (AssertionError after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if not job.items.filter(status__in=job_items.ACTIVE).exists():
                return
        except OperationalError:
            pass  # SQLite's shared in-memory test database locks tables while the worker writes
        time.sleep(0.2)
    raise AssertionError(f"job not finished: {list(job.items.values_list('user_name', 'status'))}")
