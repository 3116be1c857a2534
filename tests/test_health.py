"""/health/ (readiness: the database, Redis, a worker, IAM) and /health/live/ (liveness).

Each dependency is taken down for real where it can be: a closed port for Redis and IAM, a
socket that never answers for a hung one, no worker running. Only the database is patched
(its connections fail), since the test database must stay up for the test itself.
"""

from __future__ import annotations

import logging
import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from django.db import OperationalError, connections
from django.test import Client

from iamconsole.celery import app
from users.iam.counter import CALLS
from users.views import health

pytestmark = pytest.mark.django_db

SECRET = "hunter2-Secret"


@pytest.fixture(autouse=True)
def fresh_report(monkeypatch) -> None:
    """No report cached by an earlier test (the cache lives in process memory)."""
    monkeypatch.setattr(health, "_latest", None, raising=False)
    monkeypatch.setattr(health, "_worker_answered_at", float("-inf"))


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A local port that accepts connections (the kernel does) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield int(sock.getsockname()[1])


def point_redis_at(port: int, settings, monkeypatch) -> None:
    """The broker and the cache on 127.0.0.1:`port`, with a password in their URLs."""
    url = f"redis://:{SECRET}@127.0.0.1:{port}/0"
    monkeypatch.setattr(app.conf, "broker_url", url)
    settings.CACHES = {"default": {"BACKEND": "iamconsole.redis_cache.ReusingRedisCache", "LOCATION": url}}


def point_iam_at(port: int, settings) -> None:
    settings.IAM_ENDPOINT_URL = f"http://user:{SECRET}@127.0.0.1:{port}"


@pytest.fixture
def database_down(monkeypatch) -> None:
    """Every new database connection fails, as with PostgreSQL stopped (the test's own
    connection is already open); the error message carries a password."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OperationalError(f'connection to server at "db" failed: password "{SECRET}" refused')

    monkeypatch.setattr(type(connections["default"]), "get_new_connection", refuse)


def readiness(client: Client) -> tuple[int, dict[str, Any]]:
    response = client.get("/health/")
    assert response["Content-Type"] == "application/json"
    assert "no-store" in response["Cache-Control"]
    assert SECRET not in response.content.decode()
    return response.status_code, response.json()


def test_it_names_the_database_when_it_is_down(client, iam, redis_client, database_down) -> None:
    status, body = readiness(client)
    assert status == 503
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "down: OperationalError"
    assert body["checks"]["broker"] == body["checks"]["cache"] == body["checks"]["iam"] == "ok"


def test_it_names_redis_when_the_broker_and_the_cache_are_down(client, iam, settings, monkeypatch, caplog) -> None:
    # Its own level: an in-thread Celery worker started by an earlier test sets the root logger's.
    caplog.set_level(logging.WARNING, logger=health.log.name)
    point_redis_at(closed_port(), settings, monkeypatch)
    status, body = readiness(client)
    assert "readiness: cache is down: ConnectionError" in caplog.text
    assert SECRET not in caplog.text
    assert status == 503
    assert body["checks"] == {
        "database": "ok",
        "broker": "down: OperationalError",
        "workers": "down: broker unavailable",
        "cache": "down: ConnectionError",
        "iam": "ok",
    }


def test_it_says_when_no_worker_answers(client, iam, redis_client) -> None:
    status, body = readiness(client)
    assert status == 503
    assert body["checks"]["broker"] == "ok"
    assert body["checks"]["workers"] == "down: no worker answered"


def test_a_missed_ping_is_forgiven_for_a_while_after_a_worker_answered(client, iam, redis_client, monkeypatch) -> None:
    """A worker too busy to answer one ping does not take the console out of a load balancer;
    no answer for WORKER_GRACE_SECONDS does."""
    replies: list[dict[str, Any]] = [{"worker@host": {"ok": "pong"}}]
    monkeypatch.setattr(app.control, "ping", lambda **kwargs: list(replies))
    assert readiness(client)[1]["checks"]["workers"] == "ok"
    replies.clear()
    monkeypatch.setattr(health, "_latest", None)
    assert readiness(client)[1]["checks"]["workers"] == "ok"
    monkeypatch.setattr(health, "_worker_answered_at", time.monotonic() - health.WORKER_GRACE_SECONDS)
    monkeypatch.setattr(health, "_latest", None)
    status, body = readiness(client)
    assert status == 503
    assert body["checks"]["workers"] == "down: no worker answered"


def test_it_names_iam_when_its_endpoint_is_closed(client, redis_client, settings) -> None:
    point_iam_at(closed_port(), settings)
    status, body = readiness(client)
    assert status == 503
    assert body["checks"]["iam"] == "down: EndpointUnavailable"
    assert body["checks"]["database"] == body["checks"]["broker"] == "ok"


def test_it_answers_in_bounded_time_when_dependencies_hang(client, settings, monkeypatch, silent_port) -> None:
    point_redis_at(silent_port, settings, monkeypatch)
    point_iam_at(silent_port, settings)
    started = time.monotonic()
    status, body = readiness(client)
    assert time.monotonic() - started < health.CHECK_SECONDS + 1
    assert status == 503
    assert body["checks"]["database"] == "ok"
    for name in ("broker", "workers", "cache", "iam"):
        assert body["checks"][name].startswith("down: "), name


def test_it_checks_again_only_after_a_few_seconds(client, iam, redis_client, monkeypatch) -> None:
    with CALLS.measure() as calls:
        first = readiness(client)
        monkeypatch.setattr(type(connections["default"]), "get_new_connection", lambda *args, **kwargs: 1 / 0)
        assert readiness(client) == first  # the database is not asked again
    assert calls.by_operation["ListAccountAliases"] == 1
    assert first[1]["checks"]["database"] == "ok"
    monkeypatch.setattr(health, "CACHE_SECONDS", 0)
    assert readiness(client)[1]["checks"]["database"] == "down: ZeroDivisionError"


def test_it_keeps_liveness_trivial_when_everything_is_down(
    client, settings, monkeypatch, database_down, silent_port
) -> None:
    point_redis_at(silent_port, settings, monkeypatch)
    point_iam_at(silent_port, settings)
    started = time.monotonic()
    response = client.get("/health/live/")
    assert time.monotonic() - started < 0.5
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-store" in response["Cache-Control"]


def test_it_answers_the_compose_healthcheck_behind_the_production_settings(client, settings, monkeypatch) -> None:
    """docker-compose.yml's healthcheck asks /health/ as the TLS proxy would, so that neither the
    host check (400) nor the HTTPS redirect (301) answers in its place."""
    compose = yaml.safe_load((Path(__file__).resolve().parent.parent / "docker-compose.yml").read_text())
    command = compose["services"]["web"]["healthcheck"]["test"]
    assert command[:3] == ["CMD", "python", "-c"]
    sent: list[urllib.request.Request] = []
    monkeypatch.setattr(urllib.request, "urlopen", lambda request, timeout: sent.append(request))
    monkeypatch.setenv("ALLOWED_HOSTS", "iam.example.com,localhost")
    exec(command[3], {})
    (request,) = sent
    settings.ALLOWED_HOSTS = ["iam.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    monkeypatch.setattr(health, "_latest", health._Report({"database": "ok"}, time.monotonic()))  # no checks
    headers = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in request.header_items()}
    response = client.get(urlsplit(request.full_url).path, **headers)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}
