"""Sign-in lockout (iamconsole/lockout.py): a user name from one address after 5 failures, for
15 minutes; the user name from everywhere after 50 failures in an hour. No single address can
lock an operator out everywhere, and no account gets over 50 guesses an hour (ASVS v4 2.2.1)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.conf import settings
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from iamconsole.lockout import client_address

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


def _post(address: str, password: str, username: str = "alice") -> int:
    response = Client(REMOTE_ADDR=address).post(reverse("login"), {"username": username, "password": password})
    return response.status_code


def _fail(address: str, times: int) -> None:
    for _ in range(times):
        assert _post(address, "wrong") in {200, 429}


def test_it_is_configured_as_documented() -> None:
    assert settings.AXES_FAILURE_LIMIT == 5
    assert timedelta(minutes=15) == settings.AXES_COOLOFF_TIME
    assert settings.AXES_USERNAME_FAILURE_LIMIT == 50
    assert timedelta(hours=1) == settings.AXES_USERNAME_FAILURE_WINDOW


def test_it_locks_the_user_name_from_that_address_only(operator) -> None:
    _fail("203.0.113.7", 4)
    assert _post("203.0.113.7", "wrong") == 429  # the fifth failure locks

    assert _post("203.0.113.7", PASSWORD) == 429
    assert _post("198.51.100.20", PASSWORD) == 302  # the operator, elsewhere


def test_it_unlocks_the_address_after_the_cool_off(operator) -> None:
    _fail("203.0.113.7", 5)
    assert _post("203.0.113.7", PASSWORD) == 429

    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))

    assert _post("203.0.113.7", PASSWORD) == 302


def test_it_never_lets_one_address_lock_the_user_name_everywhere(operator) -> None:
    _fail("203.0.113.7", 200)

    # Refused attempts are not guesses: they neither count nor prolong the lockout.
    assert AccessFailureLog.objects.filter(username="alice").count() == 5
    assert _post("198.51.100.20", PASSWORD) == 302


def test_it_locks_the_user_name_everywhere_after_50_failures_in_an_hour(operator) -> None:
    for n in range(10):
        _fail(f"203.0.113.{n}", 5)
    assert AccessFailureLog.objects.filter(username="alice").count() == 50

    assert _post("198.51.100.20", PASSWORD) == 429
    assert _post("198.51.100.21", "wrong") == 429
    assert AccessFailureLog.objects.filter(username="alice").count() == 50  # refused, not a guess

    AccessFailureLog.objects.update(attempt_time=timezone.now() - timedelta(minutes=61))
    assert _post("198.51.100.20", PASSWORD) == 302


def test_it_counts_an_ipv6_subscriber_as_one_address(operator) -> None:
    for n in range(5):
        _post(f"2001:db8:1:2::{n + 1:x}", "wrong")
    assert _post("2001:db8:1:2:ffff::1", PASSWORD) == 429
    assert _post("2001:db8:1:3::1", PASSWORD) == 302


def test_it_locks_other_user_names_separately(operator, django_user_model) -> None:
    django_user_model.objects.create_user("bob", password=PASSWORD)
    _fail("203.0.113.7", 5)
    assert _post("203.0.113.7", PASSWORD, username="bob") == 302


def _behind_proxy(forwarded_for: str) -> int:
    client = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded_for)
    return client.post(reverse("login"), {"username": "alice", "password": "wrong"}).status_code


def test_it_locks_per_client_address_behind_a_proxy(operator, settings) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    for n in range(5):
        # Whatever the client puts in front, the address the proxy appended counts.
        _behind_proxy(f"192.0.2.{n}, 203.0.113.7")
    assert set(AccessFailureLog.objects.values_list("ip_address", flat=True)) == {"203.0.113.7"}
    assert _behind_proxy("203.0.113.7") == 429

    response = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.20").post(
        reverse("login"), {"username": "alice", "password": PASSWORD}
    )
    assert response.status_code == 302


def test_it_ignores_x_forwarded_for_without_a_trusted_proxy(operator) -> None:
    assert settings.TRUSTED_PROXY_COUNT == 0
    _behind_proxy("203.0.113.7")
    _behind_proxy("not an address")
    assert set(AccessFailureLog.objects.values_list("ip_address", flat=True)) == {"10.0.0.2"}


@pytest.mark.parametrize(
    ("count", "forwarded_for", "expected"),
    [
        (1, "203.0.113.7", "203.0.113.7"),
        (2, "192.0.2.1, 203.0.113.7, 10.0.0.1", "203.0.113.7"),
        (1, "junk", "10.0.0.2"),  # not an address: the proxy's own
        (2, "203.0.113.7", "10.0.0.2"),  # fewer hops than proxies: not through them
        (1, "", "10.0.0.2"),
        (1, "2001:db8:1:2:aaaa::1", "2001:db8:1:2::"),  # an IPv6 subscriber's /64
        (1, "::ffff:203.0.113.7", "::ffff:cb00:7107"),
    ],
)
def test_it_reads_the_client_address_the_proxy_saw(settings, count, forwarded_for, expected) -> None:
    settings.TRUSTED_PROXY_COUNT = count
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded_for)
    assert client_address(request) == expected


def test_it_refuses_a_user_name_no_account_can_have_next_to_the_field() -> None:
    """A name longer than any user name gets a field error: no password check, no failure record
    (axes' 255-character column made PostgreSQL answer 500)."""
    response = Client(REMOTE_ADDR="203.0.113.9").post(reverse("login"), {"username": "a" * 300, "password": "x"})
    assert response.status_code == 200
    assert "Ensure this value has at most 150 characters" in response.content.decode()
    assert not AccessFailureLog.objects.exists()
