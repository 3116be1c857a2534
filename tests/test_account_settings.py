"""Account settings: the sign-in URL and the account password policy."""

from __future__ import annotations

import pytest
from django.urls import reverse

from users.models import AuditEvent

pytestmark = pytest.mark.django_db

CUSTOM = {
    "policy": "custom",
    "minimum_length": "14",
    "require_uppercase": "on",
    "require_numbers": "on",
    "allow_users_to_change_password": "on",
    "expire_passwords": "on",
    "max_password_age": "90",
}


def test_it_shows_the_account_and_the_default_policy(iam, operator_client) -> None:
    html = operator_client.get(reverse("users:account_settings")).content.decode()
    assert "https://123456789012.signin.aws.amazon.com/console" in html
    assert "default password policy" in html
    assert "Minimum password length is 8 characters" in html


def test_it_sets_a_custom_policy_in_iam_and_audits_it(iam, operator, operator_client) -> None:
    response = operator_client.post(reverse("users:password_policy_edit"), CUSTOM)

    assert response.status_code == 302
    policy = iam.get_password_policy()
    assert (policy.is_default, policy.minimum_length, policy.max_password_age) == (False, 14, 90)
    assert policy.require_uppercase and policy.require_numbers and not policy.require_symbols
    assert policy.allow_users_to_change_password
    event = AuditEvent.objects.get(action="UpdateAccountPasswordPolicy")
    assert (event.operator_name, event.outcome) == (operator.username, "success")
    html = operator_client.get(reverse("users:account_settings")).content.decode()
    assert "Password expires in 90 day(s)" in html


def test_it_goes_back_to_the_iam_default(iam, operator_client) -> None:
    operator_client.post(reverse("users:password_policy_edit"), CUSTOM)
    operator_client.post(reverse("users:password_policy_edit"), {"policy": "default"})
    assert iam.get_password_policy().is_default


def test_it_prefills_the_form_with_the_current_policy(iam, operator_client) -> None:
    operator_client.post(reverse("users:password_policy_edit"), CUSTOM)
    form = operator_client.get(reverse("users:password_policy_edit")).context["form"]
    assert form.initial["minimum_length"] == 14
    assert form.initial["policy"] == "custom"


@pytest.mark.parametrize(
    "change, field",
    [
        ({"minimum_length": "5"}, "minimum_length"),
        ({"minimum_length": "129"}, "minimum_length"),
        ({"minimum_length": ""}, "minimum_length"),
        ({"max_password_age": "1096"}, "max_password_age"),
        ({"max_password_age": ""}, "max_password_age"),
        ({"prevent_reuse": "on", "password_reuse_prevention": "25"}, "password_reuse_prevention"),
        ({"prevent_reuse": "on"}, "password_reuse_prevention"),
        ({"expire_passwords": "", "hard_expiry": "on"}, "hard_expiry"),
    ],
)
def test_it_shows_bad_input_next_to_the_field_and_changes_nothing(iam, operator_client, change, field) -> None:
    response = operator_client.post(reverse("users:password_policy_edit"), {**CUSTOM, **change})

    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert iam.get_password_policy().is_default
    assert not AuditEvent.objects.exists()
