"""The account alias on Account settings: create, change, delete (unit: Django test client,
moto's mock_aws). moto checks no alias: the form is the guard."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.faults import inject
from users.models import AuditEvent

pytestmark = pytest.mark.django_db

EDIT = "users:account_alias_edit"
DELETE = "users:account_alias_delete"


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def _aliases(iam) -> list[str]:
    return list(iam.clients[0].list_account_aliases()["AccountAliases"])


def test_it_creates_the_alias_and_the_frame_shows_it_at_once(iam, operator, operator_client) -> None:
    # The frame's account info is cached (5 minutes) before the change.
    assert "Account 123456789012 (" not in operator_client.get(reverse("users:account_settings")).content.decode()

    response = operator_client.post(reverse(EDIT), {"alias": "example-corp"}, follow=True)

    assert "The account alias is now example-corp." in _messages(response)
    assert _aliases(iam) == ["example-corp"]
    html = response.content.decode()
    assert "Account 123456789012 (example-corp)" in html  # the top bar
    assert "https://example-corp.signin.aws.amazon.com/console" in html
    event = AuditEvent.objects.get(action="CreateAccountAlias")
    assert (event.operator_name, event.target, event.outcome) == (operator.username, "example-corp", "success")


def test_it_changes_the_alias_by_deleting_then_creating(iam, operator_client) -> None:
    operator_client.post(reverse(EDIT), {"alias": "old-name"})
    form = operator_client.get(reverse(EDIT)).context["form"]
    assert form.initial["alias"] == "old-name"

    response = operator_client.post(reverse(EDIT), {"alias": "new-name"}, follow=True)

    assert "The account alias is now new-name." in _messages(response)
    assert _aliases(iam) == ["new-name"]
    assert "Account 123456789012 (new-name)" in response.content.decode()
    actions = list(AuditEvent.objects.order_by("id").values_list("action", "target"))
    assert actions[-2:] == [("DeleteAccountAlias", "old-name"), ("CreateAccountAlias", "new-name")]


def test_it_deletes_the_alias_after_a_confirmation(iam, operator_client) -> None:
    operator_client.post(reverse(EDIT), {"alias": "example-corp"})
    confirm = operator_client.get(reverse(DELETE))
    assert "Delete account alias example-corp?" in confirm.content.decode()
    assert _aliases(iam) == ["example-corp"]  # nothing deleted by the GET

    response = operator_client.post(reverse(DELETE), follow=True)

    assert "The account alias example-corp was deleted." in _messages(response)
    assert _aliases(iam) == []
    html = response.content.decode()
    assert "(example-corp)" not in html
    assert "https://123456789012.signin.aws.amazon.com/console" in html
    assert AuditEvent.objects.filter(action="DeleteAccountAlias", outcome="success").count() == 1


def test_deleting_without_an_alias_changes_nothing(iam, operator_client) -> None:
    response = operator_client.post(reverse(DELETE), follow=True)
    assert "The account has no alias." in _messages(response)
    assert not AuditEvent.objects.filter(action="DeleteAccountAlias").exists()


@pytest.mark.parametrize(
    "alias, message",
    [
        ("ab", "The alias must be 3 to 63 characters long."),
        ("a" * 64, "Ensure this value has at most 63 characters (it has 64)."),
        ("Example", "Use only lowercase letters (a-z), digits (0-9) and hyphens (-)."),
        ("my_corp", "Use only lowercase letters (a-z), digits (0-9) and hyphens (-)."),
        ("my corp", "Use only lowercase letters (a-z), digits (0-9) and hyphens (-)."),
        ("-corp", "The alias cannot start or end with a hyphen."),
        ("corp-", "The alias cannot start or end with a hyphen."),
        ("my--corp", "The alias cannot contain two hyphens in a row."),
        ("123456789012", "The alias cannot be a 12-digit number: it would read as an account ID."),
        ("", "This field is required."),
    ],
)
def test_a_bad_alias_is_refused_next_to_the_field_before_iam(iam, operator_client, alias, message) -> None:
    response = operator_client.post(reverse(EDIT), {"alias": alias})

    assert response.status_code == 400
    assert response.context["form"].errors["alias"] == [message]
    assert _aliases(iam) == []
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("alias", ["abc", "a-b-c", "0corp9", "a" * 63, "12345678901", "1234567890123"])
def test_it_accepts_what_iam_accepts(iam, operator_client, alias) -> None:
    assert operator_client.post(reverse(EDIT), {"alias": alias}).status_code == 302
    assert _aliases(iam) == [alias]


def test_the_same_alias_again_is_refused(iam, operator_client) -> None:
    operator_client.post(reverse(EDIT), {"alias": "example-corp"})
    response = operator_client.post(reverse(EDIT), {"alias": "example-corp"})
    assert response.context["form"].errors["alias"] == ["This is already the account's alias."]
    assert not AuditEvent.objects.filter(action="DeleteAccountAlias").exists()


def test_an_alias_taken_elsewhere_is_shown_next_to_the_field(iam, operator_client) -> None:
    with inject(iam, "CreateAccountAlias", "EntityAlreadyExists", status=409, message="The account alias is taken."):
        response = operator_client.post(reverse(EDIT), {"alias": "taken"})
    assert response.status_code == 400
    assert response.context["form"].errors["alias"] == ["IAM refused this alias: The account alias is taken."]
    assert _aliases(iam) == []


def test_a_refused_change_keeps_the_old_alias(iam, operator_client) -> None:
    operator_client.post(reverse(EDIT), {"alias": "old-name"})
    with inject(iam, "CreateAccountAlias", "EntityAlreadyExists", status=409, message="Taken.") as fault:
        response = operator_client.post(reverse(EDIT), {"alias": "taken"})
    assert fault.hits == 1
    assert response.context["form"].errors["alias"] == ["IAM refused this alias: Taken. The alias old-name was kept."]
    assert _aliases(iam) == ["old-name"]
    html = operator_client.get(reverse("users:account_settings")).content.decode()
    assert "Account 123456789012 (old-name)" in html


def test_a_refused_change_says_when_the_account_is_left_without_alias(iam, operator_client) -> None:
    operator_client.post(reverse(EDIT), {"alias": "old-name"})
    with inject(iam, "CreateAccountAlias", "EntityAlreadyExists", status=409, message="Taken.", times=2):
        response = operator_client.post(reverse(EDIT), {"alias": "taken"})
    assert response.context["form"].errors["alias"] == ["IAM refused this alias: Taken. The account has no alias now."]
    assert _aliases(iam) == []
    assert "(old-name)" not in operator_client.get(reverse("users:account_settings")).content.decode()


def test_operators_see_the_alias_actions(iam, operator_client) -> None:
    html = operator_client.get(reverse("users:account_settings")).content.decode()
    assert 'data-testid="alias-create"' in html and 'data-testid="alias-edit"' not in html
    operator_client.post(reverse(EDIT), {"alias": "example-corp"})
    html = operator_client.get(reverse("users:account_settings")).content.decode()
    assert 'data-testid="alias-edit"' in html and 'data-testid="alias-delete"' in html
    assert 'data-testid="alias-create"' not in html


def test_a_viewer_cannot_change_the_alias(iam, viewer_client) -> None:
    html = viewer_client.get(reverse("users:account_settings")).content.decode()
    assert 'data-testid="alias-create"' not in html
    assert viewer_client.post(reverse(EDIT), {"alias": "example-corp"}).status_code == 403
    assert viewer_client.post(reverse(DELETE)).status_code == 403
    assert _aliases(iam) == []


def test_a_read_only_console_refuses_it(iam, operator_client, settings) -> None:
    settings.IAM_READ_ONLY = True
    assert operator_client.post(reverse(EDIT), {"alias": "example-corp"}).status_code == 403
    assert _aliases(iam) == []
