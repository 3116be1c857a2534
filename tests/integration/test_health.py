"""/health/ with everything up: the test database, the tests' Redis (broker and cache), a real
worker answering its ping, and the moto server as IAM."""

from __future__ import annotations

import pytest

from users.views import health

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_it_is_ready_when_every_dependency_answers(client, redis_cache, celery_worker, monkeypatch) -> None:
    monkeypatch.setattr(health, "_latest", None, raising=False)
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "broker": "ok", "workers": "ok", "cache": "ok", "iam": "ok"},
    }
