"""The Create group dialog of a user's Add permissions (shared with wizard step 2): the group is
created with its policies and selected; errors stay next to the dialog's fields and the rest of
the form keeps its state (unit: Django test client, moto's mock_aws)."""

from __future__ import annotations

import html as html_lib
import re

import pytest
from django.urls import reverse

from tests.faults import inject
from users.iam.counter import CALLS
from users.iam.gateway import MUTATING

pytestmark = pytest.mark.django_db

READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
BILLING = "arn:aws:iam::aws:policy/job-function/Billing"
SECURITY_AUDIT = "arn:aws:iam::aws:policy/SecurityAudit"
URL = reverse("users:permissions_add", args=["arthur"])


def _hidden(html: str, name: str) -> list[str]:
    return re.findall(rf'<input type="hidden" name="{re.escape(name)}" value="([^"]+)"', html)


def _checked_groups(html: str) -> list[str]:
    return re.findall(r'type="checkbox" name="add-groups" value="([^"]+)" id="group-\d+" checked>', html)


def _create(client, name: str, group_policies: list[str], **add: object):
    """Add permissions with the dialog's Create group pressed; `add`: the rest of the form."""
    data = {"new_group-name": name, "new_group-policies": group_policies, "create_group": "1"}
    return client.post(URL, {**data, **{f"add-{key}": value for key, value in add.items()}})


@pytest.fixture
def arthur(iam):
    iam.create_user("arthur")
    iam.attach_user_policy("arthur", SECURITY_AUDIT)
    iam.create_group("Developers")
    return iam


def test_the_page_offers_the_dialog_with_every_attachable_policy(arthur, operator_client) -> None:
    html = operator_client.get(URL).content.decode()
    assert 'id="create-group"' in html and 'data-testid="new-group-picker"' in html
    assert 'name="create_group"' in html and 'name="new_group-name"' in html
    # The user's own policies are left out of his picker, not the new group's.
    new_group = re.search(r'data-testid="new-group-picker"[^>]*data-search-url="([^"]*)"', html)
    assert new_group is not None and "exclude" not in new_group.group(1)
    assert "exclude=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FSecurityAudit" in html


def test_it_creates_the_group_with_its_policies_and_selects_it(arthur, operator_client) -> None:
    response = _create(
        operator_client, "Billers", [BILLING, READ_ONLY], option="group", groups=["Developers"], policies=[READ_ONLY]
    )
    html = html_lib.unescape(response.content.decode())
    assert response.status_code == 200
    assert "User group Billers created." in html
    assert sorted(p.arn for p in arthur.list_attached_group_policies("Billers")) == [READ_ONLY, BILLING]
    assert _checked_groups(html) == ["Billers", "Developers"]
    # What was chosen elsewhere on the form is still chosen; the dialog is empty again.
    assert _hidden(html, "add-policies") == [READ_ONLY]
    assert 'name="new_group-name" id="id_new_group-name" value=""' in html and "show-on-load" not in html
    assert arthur.list_groups_for_user("arthur") == []  # nothing is added before the Review

    # Next goes to the Review with the new group.
    review = operator_client.post(URL, {"add-option": "group", "add-groups": ["Billers"]})
    assert review.status_code == 302 and review["Location"].endswith("/add/review/")


@pytest.mark.parametrize(
    "name, message",
    [
        ("developers", "A group with this name already exists. Group names are not case sensitive."),
        ("bad name!", "Use alphanumeric"),
        ("", "This field is required."),
    ],
    ids=["taken", "invalid", "empty"],
)
def test_a_refused_name_is_shown_next_to_the_field_and_nothing_changes(arthur, operator_client, name, message) -> None:
    with CALLS.measure() as calls:
        response = _create(operator_client, name, [BILLING], option="group", groups=["Developers"], copy_from="")
    html = html_lib.unescape(response.content.decode())
    assert response.status_code == 400
    errors = re.findall(r'data-testid="new-group-name-error">(.*?)</div>', html)
    assert len(errors) == 1 and message in errors[0]
    assert "show-on-load" in html  # the dialog opens again
    assert _hidden(html, "new_group-policies") == [BILLING]  # with its policies
    assert _checked_groups(html) == ["Developers"]  # and the form as it was
    assert sum(n for operation, n in calls.by_operation.items() if operation in MUTATING) == 0
    assert [group.name for group in arthur.list_groups()] == ["Developers"]


def test_a_name_iam_refuses_is_shown_on_the_dialog(arthur, operator_client) -> None:
    with inject(arthur, "CreateGroup", "LimitExceeded", status=409, message="Cannot exceed quota for GroupsPerAccount"):
        response = _create(operator_client, "Billers", [BILLING], option="group")
    html = html_lib.unescape(response.content.decode())
    assert response.status_code == 400
    assert re.findall(r'data-testid="new-group-error">(.*?)</div>', html) == [
        "IAM refused to create the group: LimitExceeded (Cannot exceed quota for GroupsPerAccount). "
        "Nothing was created."
    ]
    assert "Billers" not in [group.name for group in arthur.list_groups()]


def test_a_policy_iam_refuses_leaves_the_group_created_and_selected(arthur, operator_client) -> None:
    with inject(arthur, "AttachGroupPolicy", "LimitExceeded", status=409, message="Cannot exceed quota"):
        response = _create(operator_client, "Billers", [BILLING], option="group")
    html = html_lib.unescape(response.content.decode())
    assert "User group Billers created." in html
    assert "Policy Billing was not attached to Billers: IAM answered LimitExceeded (Cannot exceed quota)." in html
    assert _checked_groups(html) == ["Billers"]


def test_a_viewer_may_not_create_a_group_here(arthur, viewer_client) -> None:
    assert _create(viewer_client, "Billers", [], option="group").status_code == 403
    assert [group.name for group in arthur.list_groups()] == ["Developers"]
