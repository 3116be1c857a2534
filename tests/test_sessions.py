"""Operator sessions: a new key at sign-in, 30 idle minutes, 12 hours at most (ASVS v4 3.2.1, 3.3.2)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from axes.models import AccessLog
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from iamconsole.sessions import SIGNED_IN_AT

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
REAL_NOW = timezone.now


def _sign_in(client: Client, username: str = "alice") -> None:
    response = client.post(reverse("login"), {"username": username, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("users:list")


def _session_key(client: Client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def _move_clock(monkeypatch: pytest.MonkeyPatch, by: timedelta) -> None:
    """Django's clock (session expiry) runs `by` ahead of the real one from here on."""
    monkeypatch.setattr(timezone, "now", lambda: REAL_NOW() + by)


def test_it_gives_a_new_session_key_at_sign_in_through_the_login_form(operator) -> None:
    planted = SessionStore()
    planted["planted"] = "by someone else"
    planted.create()
    planted_key = str(planted.session_key)
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = planted_key

    _sign_in(client)

    assert _session_key(client) != planted_key
    assert not SessionStore().exists(planted_key)
    assert client.session["_auth_user_id"] == str(operator.pk)
    # Through axes' backend: it saw the sign-in, with the new session.
    assert AccessLog.objects.filter(username="alice").count() == 1


def test_it_stamps_the_sign_in_time_in_the_session(operator) -> None:
    client = Client()
    before = int(timezone.now().timestamp())
    _sign_in(client)
    assert before - 1 <= client.session[SIGNED_IN_AT] <= before + 5


def test_it_ends_a_session_after_30_idle_minutes_and_slides_with_use(iam, operator, monkeypatch) -> None:
    client = Client()
    _sign_in(client)
    assert settings.SESSION_COOKIE_AGE == 30 * 60

    _move_clock(monkeypatch, timedelta(minutes=29))
    assert client.get(reverse("users:list")).status_code == 200
    _move_clock(monkeypatch, timedelta(minutes=58))  # 29 idle minutes after the last request
    assert client.get(reverse("users:list")).status_code == 200
    _move_clock(monkeypatch, timedelta(minutes=58 + 31))

    response = client.get(reverse("users:list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def _expiry(client: Client) -> datetime:
    return Session.objects.get(session_key=_session_key(client)).expire_date


def test_it_renews_the_idle_expiry_once_a_minute_not_on_every_request(iam, operator, monkeypatch) -> None:
    assert settings.SESSION_TOUCH_SECONDS == 60
    client = Client()
    _sign_in(client)
    assert client.get(reverse("users:list")).status_code == 200  # the first page notes the MFA check
    signed_in_expiry = _expiry(client)

    _move_clock(monkeypatch, timedelta(seconds=50))
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("users:list")).status_code == 200
    assert not [query for query in queries if "django_session" in query["sql"] and "UPDATE" in query["sql"]]
    assert _expiry(client) == signed_in_expiry

    _move_clock(monkeypatch, timedelta(seconds=70))
    assert client.get(reverse("users:list")).status_code == 200
    assert _expiry(client) > signed_in_expiry  # renewed: 30 idle minutes from now


def _age_sign_in(client: Client, seconds: int) -> None:
    session = client.session
    session[SIGNED_IN_AT] -= seconds
    session.save()


def test_it_ends_a_session_12_hours_after_sign_in_however_active(iam, operator) -> None:
    assert settings.SESSION_ABSOLUTE_SECONDS == 12 * 60 * 60
    client = Client()
    _sign_in(client)
    old_key = _session_key(client)
    _age_sign_in(client, 12 * 60 * 60 - 60)
    assert client.get(reverse("users:list")).status_code == 200

    _age_sign_in(client, 61)
    response = client.get(reverse("users:list"))

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={reverse('users:list')}"
    assert not SessionStore().exists(old_key)
    page = client.get(response["Location"]).content.decode()
    assert "Your session has reached its time limit" in page
    # The old cookie is worth nothing now.
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = old_key
    assert replay.get(reverse("users:list")).status_code == 302


def test_it_ends_a_signed_in_session_that_has_no_sign_in_time(iam, operator) -> None:
    client = Client()
    _sign_in(client)
    session = client.session
    del session[SIGNED_IN_AT]
    session.save()
    assert client.get(reverse("users:list")).status_code == 302


def test_it_leaves_the_sign_in_page_to_anonymous_visitors(client) -> None:
    assert client.get(reverse("login")).status_code == 200
