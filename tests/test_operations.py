"""Running the console: the first operator, the broker choice of `make run`, settings
invariants for reliable jobs, and logs that never carry a secret."""

from __future__ import annotations

import logging
import os
from typing import cast

import pytest
from celery.signals import celeryd_init
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command

from iamconsole import run
from iamconsole.celery import app
from iamconsole.log_redaction import RedactSecrets, redact
from iamconsole.redis_cache import ReusingRedisCache
from iamconsole.settings import LOGGING
from users.roles import CHANGE_IAM


@pytest.mark.django_db
def test_it_creates_a_first_operator_once_and_prints_the_password(capsys) -> None:
    call_command("ensure_operator")
    first = capsys.readouterr().out
    call_command("ensure_operator")
    second = capsys.readouterr().out

    admin = User.objects.get()
    password = first.split("password:")[1].split()[0]
    assert admin.username == "admin" and admin.has_perm(CHANGE_IAM)
    assert admin.check_password(password)
    assert "already exist" in second and password not in second


def test_it_prefers_an_explicit_redis_url(monkeypatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://example.invalid:6379/2")
    assert run.choose_broker() == "Redis at redis://example.invalid:6379/2"


def test_it_uses_a_local_redis_when_one_answers(monkeypatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    monkeypatch.setattr(run, "redis_answers", lambda url: url == run.LOCAL_REDIS)
    assert run.choose_broker() == f"Redis at {run.LOCAL_REDIS}"
    assert os.environ["REDIS_URL"] == run.LOCAL_REDIS


def test_it_falls_back_to_the_filesystem_transport_without_redis(monkeypatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    monkeypatch.setattr(run, "redis_answers", lambda url: False)
    assert "filesystem transport" in run.choose_broker()
    assert "REDIS_URL" not in os.environ


def test_it_sees_that_no_redis_answers_on_a_closed_port() -> None:
    assert not run.redis_answers("redis://127.0.0.1:9/0")


def test_it_configures_celery_for_at_least_once_delivery() -> None:
    """RELIABILITY.md F9: late acks, requeue when a worker dies, one task at a time, no results."""
    assert settings.CELERY_TASK_ACKS_LATE is True
    assert settings.CELERY_TASK_REJECT_ON_WORKER_LOST is True
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1
    assert settings.CELERY_TASK_IGNORE_RESULT is True
    assert settings.CELERY_ACCEPT_CONTENT == ["json"]


def test_it_sets_the_visibility_timeout_in_the_three_places_celery_reads_it() -> None:
    """RELIABILITY.md F9: with several values the shortest wins; it must outlast a task and its
    longest retry countdown, or Redis hands the message to another worker mid-task."""
    from iamconsole.celery import app
    from users.tasks import CHUNK_TIME_LIMIT, RETRY_BACKOFF_MAX

    values = {
        app.conf.broker_transport_options["visibility_timeout"],
        app.conf.result_backend_transport_options["visibility_timeout"],
        app.conf.visibility_timeout,
    }
    assert values == {settings.CELERY_VISIBILITY_TIMEOUT}
    assert settings.CELERY_VISIBILITY_TIMEOUT > CHUNK_TIME_LIMIT + RETRY_BACKOFF_MAX
    assert settings.JOB_ITEM_STALE_SECONDS > CHUNK_TIME_LIMIT
    assert settings.CELERY_WORKER_CONCURRENCY > 1


def test_it_keeps_the_aws_sdk_at_info_even_when_debugging() -> None:
    """botocore logs request and response bodies (passwords, secret keys) at DEBUG."""
    import importlib
    import os

    from iamconsole import settings as console_settings

    os.environ["LOG_LEVEL"] = "DEBUG"
    try:
        debug_logging = importlib.reload(console_settings).LOGGING
    finally:
        del os.environ["LOG_LEVEL"]
        importlib.reload(console_settings)
    assert debug_logging["root"]["level"] == "DEBUG"
    for name in ("botocore", "boto3", "urllib3", "s3transfer"):
        assert debug_logging["loggers"][name]["level"] == "INFO"
    assert LOGGING["handlers"]["console"]["filters"] == ["redact"]


@pytest.mark.parametrize(
    "line",
    [
        "{'UserName': 'arthur', 'Password': 'Sekr3t!pw'}",
        '"SecretAccessKey": "Sekr3t!pw"',
        "Action=CreateLoginProfile&UserName=arthur&Password=Sekr3t!pw&Version=2010-05-08",
        "NewPassword=Sekr3t!pw",
    ],
)
def test_it_masks_secrets_in_log_lines(line: str) -> None:
    masked = redact(line)
    assert "Sekr3t!pw" not in masked
    assert "***" in masked


def test_it_masks_secrets_in_log_records_and_keeps_the_rest() -> None:
    record = logging.LogRecord("botocore", logging.INFO, __file__, 1, "params %s", ({"Password": "Sekr3t!pw"},), None)
    assert RedactSecrets().filter(record)
    assert record.getMessage() == "params {'Password': '***'}"
    plain = logging.LogRecord("users", logging.INFO, __file__, 1, "created %s", ("arthur",), None)
    RedactSecrets().filter(plain)
    assert plain.getMessage() == "created arthur"


def test_the_redis_cache_reuses_one_client_and_works(redis_cache) -> None:
    """iamconsole/redis_cache.py: Django builds a redis client per operation; ours keeps one."""
    from django.core.cache import cache

    backend = cast(ReusingRedisCache, cache)  # the proxy forwards to it
    client = backend._cache.get_client(write=True)
    assert backend._cache.get_client() is client
    cache.set("reuse-check", {"a": 1}, 30)
    assert cache.add("reuse-counter", 1) and cache.incr("reuse-counter") == 2
    assert cache.get("reuse-check") == {"a": 1} and cache.get("reuse-counter") == 2


@pytest.mark.django_db
def test_it_has_a_migration_for_every_model_change() -> None:
    """`makemigrations --check`: moving code between modules changed no model."""
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_a_celery_worker_runs_below_the_web_servers_cpu_priority(monkeypatch, settings) -> None:
    """`celery worker` lowers its priority (its pool processes inherit it); an in-process test
    worker, which sends no celeryd_init, leaves the test run's alone."""
    increments: list[int] = []
    monkeypatch.setattr(os, "nice", increments.append)
    settings.WORKER_NICE = 10
    celeryd_init.send(sender="worker1@host", instance=None, conf=app.conf, options={})
    assert increments == [10]
