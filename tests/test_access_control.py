"""Who may see and do what: anonymous visitors, viewers, operators."""

from __future__ import annotations

import pytest
from django.urls import reverse

from users.models import AuditEvent

pytestmark = pytest.mark.django_db

PRIVATE_URLS = ["/", "/users/", "/users/details/arthur/", "/account/", "/account/password-policy/", "/admin/"]


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_it_sends_anonymous_visitors_to_sign_in(client, url) -> None:
    for method in (client.get, client.post):
        response = method(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/") or response["Location"].startswith("/admin/login/")


def test_it_leaves_only_sign_in_and_health_open(client) -> None:
    assert client.get("/login/").status_code == 200
    assert client.get("/health/live/").json() == {"status": "ok"}  # /health/ itself: tests/test_health.py


def test_it_refuses_a_change_to_a_viewer_and_changes_nothing(iam, viewer_client) -> None:
    url = reverse("users:password_policy_edit")
    assert viewer_client.get(url).status_code == 403
    assert viewer_client.post(url, {"policy": "custom", "minimum_length": "20"}).status_code == 403
    assert iam.get_password_policy().is_default
    # Both refusals are audited (RELIABILITY.md A2), and nothing else is.
    rows = AuditEvent.objects.order_by("id").values_list("operator_name", "action", "target", "outcome")
    assert list(rows) == [("bob", "Refused", url, "failure")] * 2


def test_it_lets_a_viewer_read(iam, viewer_client) -> None:
    iam.create_user("arthur")
    assert viewer_client.get(reverse("users:list")).status_code == 200
    assert viewer_client.get(reverse("users:detail", args=["arthur"])).status_code == 200
    assert "Edit" not in viewer_client.get(reverse("users:account_settings")).content.decode()


def test_it_requires_the_csrf_token_on_changes(iam, operator) -> None:
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    response = client.post(reverse("users:password_policy_edit"), {"policy": "default"})
    assert response.status_code == 403


def test_it_signs_out_only_by_post(operator_client) -> None:
    assert operator_client.get("/logout/").status_code == 405
    operator_client.post("/logout/")
    assert operator_client.get("/users/").status_code == 302


def test_it_ignores_an_offsite_next_after_sign_in(client, operator) -> None:
    operator.set_password("a-long-operator-password")
    operator.save()
    response = client.post(
        "/login/?next=https://evil.example/", {"username": operator.username, "password": "a-long-operator-password"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("users:list")


def test_it_locks_an_account_after_five_failed_sign_ins(client, operator) -> None:
    operator.set_password("a-long-operator-password")
    operator.save()
    for _ in range(5):
        client.post("/login/", {"username": operator.username, "password": "wrong"})
    response = client.post("/login/", {"username": operator.username, "password": "a-long-operator-password"})
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.content.decode()


def test_it_shows_a_clear_page_when_iam_cannot_be_reached(operator_client, settings) -> None:
    from users.iam.gateway import IamGateway

    settings.IAM_BACKEND = "endpoint"
    settings.IAM_ENDPOINT_URL = "http://127.0.0.1:9"  # discard port: nothing listens
    settings.IAM_MAX_ATTEMPTS = 1
    IamGateway.forget_clients()
    response = operator_client.get(reverse("users:list"))
    assert response.status_code == 503
    assert "The IAM backend cannot be reached" in response.content.decode()
    assert 'data-testid="backend-badge"' in response.content.decode()
