"""iamconsole/cache_outage.py with the cache on a closed port (Redis down): IAM reads go on
without it, once per OUTAGE_SECONDS at most; the strict uses answer 503 (IAM: moto's mock_aws).
The whole story with a real Redis stopped and started: tests/integration/test_redis_outage.py."""

from __future__ import annotations

import socket

import pytest
import redis.exceptions
from django.http import HttpResponse
from django.urls import reverse

from iamconsole import cache_outage
from iamconsole.cache_outage import tolerant_cache
from iamconsole.redis_cache import ReusingRedisCache
from tests.test_user_credentials import _create_key
from users import retrievals

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_down(settings) -> None:
    """The cache on a port where nothing listens, with the production settings' timeouts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.CACHES = {
        "default": {
            "BACKEND": "iamconsole.redis_cache.ReusingRedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 1.0},
        }
    }


def test_a_read_is_a_miss_and_the_outage_is_remembered(redis_down) -> None:
    assert not cache_outage.in_outage()
    assert tolerant_cache.get("k", "default") == "default"
    assert cache_outage.in_outage()
    tolerant_cache.set("k", 1, 60)  # dropped
    with pytest.raises(ValueError):
        tolerant_cache.incr("k")
    assert tolerant_cache.get_or_set("k", lambda: "computed", 60) == "computed"


def test_during_an_outage_the_cache_is_not_asked(redis_down, monkeypatch) -> None:
    tolerant_cache.get("k")  # the outage is recorded
    asked: list[str] = []
    monkeypatch.setattr(ReusingRedisCache, "get", lambda *args, **kwargs: asked.append("get"))
    assert tolerant_cache.get("k") is None
    assert asked == []
    monkeypatch.setattr(cache_outage, "_outage_until", 0.0)  # OUTAGE_SECONDS later
    tolerant_cache.get("k")
    assert asked == ["get"]


def test_the_users_list_answers_without_the_cache_and_says_so(iam, operator_client, redis_down) -> None:
    iam.create_user("marvin")
    response = operator_client.get(reverse("users:list"))
    assert response.status_code == 200
    text = response.content.decode()
    assert "marvin" in text and 'data-testid="cache-unavailable"' in text


def test_with_the_cache_up_no_notice_is_shown(iam, operator_client) -> None:
    response = operator_client.get(reverse("users:list"))
    assert 'data-testid="cache-unavailable"' not in response.content.decode()


def test_a_new_access_key_is_not_created_when_its_secret_cannot_be_kept(iam, operator_client, redis_down) -> None:
    """The store is checked before CreateAccessKey: 503 saying so, and no key in IAM."""
    iam.create_user("marvin")
    response = _create_key(operator_client, "marvin")
    assert response.status_code == 503
    assert isinstance(response, HttpResponse)
    assert 'data-testid="store-unavailable"' in response.content.decode()
    assert iam.list_access_keys("marvin") == []


def test_a_change_made_during_an_outage_is_not_hidden_by_what_was_cached_before(iam, redis_cache, monkeypatch) -> None:
    """The new cache generation that a change asks for is made once Redis answers again: the
    users index cached before the outage is not served after it."""
    iam.create_user("marvin")
    assert [user.name for user in iam.user_index()] == ["marvin"]  # cached

    def refused(*args: object, **kwargs: object) -> None:
        raise redis.exceptions.ConnectionError("Redis is down")

    with monkeypatch.context() as outage:
        for method in ("get", "set", "incr"):
            outage.setattr(ReusingRedisCache, method, refused)
        iam.delete_user("marvin")  # its new generation is dropped
    monkeypatch.setattr(cache_outage, "_outage_until", 0.0)  # OUTAGE_SECONDS later
    assert iam.user_index() == []


def test_a_key_whose_secret_could_not_be_kept_is_deleted_again(iam, operator_client, monkeypatch) -> None:
    """Redis goes away between the store's check and the keeping of the new secret: the key
    nobody could ever use is deleted, and the operator is told."""
    iam.create_user("marvin")

    def store_down(*args: object, **kwargs: object) -> None:
        raise redis.exceptions.ConnectionError("Redis is down")

    monkeypatch.setattr(retrievals, "keep", store_down)
    response = _create_key(operator_client, "marvin")
    assert response.status_code == 302
    assert iam.list_access_keys("marvin") == []
    page = operator_client.get(response["Location"]).content.decode()
    assert "the new access key&#x27;s secret could not be kept, so the key" in page
