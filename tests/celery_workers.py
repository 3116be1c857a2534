"""A real Celery worker in threads of the test process (tests/conftest.py's `celery_worker`,
and the bulk-import tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.conf import settings
from django.db import connections

from iamconsole.celery import app


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
