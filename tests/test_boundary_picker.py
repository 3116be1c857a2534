"""The permissions boundary pickers: a user's Set permissions boundary page and the wizard's
boundary, each a single-choice policy picker (radio buttons, search, Type filter, pages) that
keeps the chosen policy (unit: Django test client, moto's mock_aws)."""

from __future__ import annotations

import html as html_lib
import re

import pytest
from django.urls import reverse

from tests.faults import inject
from users.forms.policy_picker import PAGE_SIZE

pytestmark = pytest.mark.django_db

READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
SECURITY_AUDIT = "arn:aws:iam::aws:policy/SecurityAudit"
URL = reverse("users:boundary_set", args=["arthur"])


def _hidden(html: str, name: str) -> list[str]:
    return re.findall(rf'<input type="hidden" name="{re.escape(name)}" value="([^"]+)"', html)


def test_the_page_shows_one_page_of_policies_as_radio_buttons(iam, operator_client) -> None:
    iam.create_user("arthur")
    html = operator_client.get(URL).content.decode()
    picker = html[html.index('data-testid="boundary-picker"') :]
    assert 'data-multiple="false"' in picker and 'aria-label="Filter boundary policies by Type"' in picker
    assert 'aria-label="Search boundary policies"' in picker
    assert html.count('type="radio" name="policy"') == PAGE_SIZE + 1  # and the row the script fills in
    assert 'type="checkbox"' not in picker
    assert "<datalist" not in html and len(html) < 60_000  # it listed every policy (1,200)
    assert "Selected: <span data-picker-selected>none</span>" in html


def test_the_current_boundary_is_chosen_when_the_page_opens(iam, operator_client) -> None:
    iam.create_user("arthur")
    iam.put_user_permissions_boundary("arthur", READ_ONLY)
    html = operator_client.get(URL).content.decode()
    assert "Change permissions boundary" in html
    assert _hidden(html, "policy") == [READ_ONLY]  # not on the first page: kept
    assert "Selected: <span data-picker-selected>ReadOnlyAccess</span>" in html


def test_a_choice_on_the_first_page_is_checked_there_and_sets_the_boundary(iam, operator_client) -> None:
    iam.create_user("arthur")
    first = operator_client.get(URL).context["form"].policy_picker.first.rows[0]
    response = operator_client.post(URL, {"policy": first.arn}, follow=True)
    assert f"Permissions boundary set to {first.name}." in html_lib.unescape(response.content.decode())
    assert iam.get_user("arthur").permissions_boundary_arn == first.arn


def test_an_iam_refusal_keeps_the_chosen_policy(iam, operator_client) -> None:
    iam.create_user("arthur")
    with inject(iam, "PutUserPermissionsBoundary", "AccessDenied", status=403, message="Not allowed"):
        response = operator_client.post(URL, {"policy": SECURITY_AUDIT})
    html = html_lib.unescape(response.content.decode())
    assert response.status_code == 400
    assert re.findall(r'data-testid="policy-error">(.*?)</div>', html) == [
        "IAM refused this policy as a boundary: AccessDenied (Not allowed)."
    ]
    assert _hidden(html, "policy") == [SECURITY_AUDIT]
    assert iam.get_user("arthur").permissions_boundary_arn is None


def test_the_wizard_boundary_is_a_single_choice_picker(iam, operator_client) -> None:
    wizard = reverse("users:create")
    operator_client.get(wizard)
    details = {
        "add_user_wizard-current_step": "details",
        "details-user_name_0": "arthur",
        "details-access_type": ["programmatic"],
    }
    html = operator_client.post(wizard, details).content.decode()
    picker = html[html.index('data-testid="boundary-picker"') :]
    picker = picker[: picker.index("</table>")]
    assert 'data-multiple="false"' in picker and 'aria-label="Search boundary policies"' in picker
    assert picker.count('type="radio" name="permissions-boundary_policy"') == PAGE_SIZE
