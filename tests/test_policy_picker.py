"""The managed-policy pickers (wizard step 2, Add permissions, the group pages): the search
endpoint they fetch, and what the pages render of them (unit: Django test client, moto's mock_aws)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from users.forms.policy_picker import MAX_EXCLUDED, PAGE_SIZE
from users.iam.counter import CALLS

pytestmark = pytest.mark.django_db

SEARCH = reverse("users:policy_search")
WIZARD = reverse("users:create")
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
BILLING = "arn:aws:iam::aws:policy/job-function/Billing"
JOB_FUNCTION = "AWS managed - job function"


def _search(client, **params):
    response = client.get(SEARCH, params)
    assert response.status_code == 200, response.content
    return response.json()


def _hidden(html: str, name: str) -> list[str]:
    """The ARNs a picker keeps as hidden inputs (selected, but not on the page shown)."""
    return re.findall(rf'<input type="hidden" name="{re.escape(name)}" value="([^"]+)"', html)


# --- The search endpoint -----------------------------------------------------------------------


def test_it_searches_names_without_case_and_filters_by_type(iam, operator_client) -> None:
    found = _search(operator_client, q="READONLY", type=JOB_FUNCTION)
    expected = [
        policy
        for policy in iam.attachable_policy_index()
        if "readonly" in policy.name.casefold() and policy.policy_type == JOB_FUNCTION
    ]
    assert found["count"] == len(expected) > 0
    assert {"arn": READ_ONLY, "name": "ReadOnlyAccess", "type": JOB_FUNCTION, "attachments": 0} in found["rows"]
    assert all(row["type"] == JOB_FUNCTION and "readonly" in row["name"].casefold() for row in found["rows"])


def test_it_pages_the_policies_by_name(iam, operator_client) -> None:
    everything = sorted(policy.name.casefold() for policy in iam.attachable_policy_index())
    first, second = _search(operator_client), _search(operator_client, page="2")
    last = _search(operator_client, page="100000")  # past the end: the last page

    assert first["count"] == len(everything) > 1000
    assert first["pages"] == last["page"] == -(-len(everything) // PAGE_SIZE)
    assert [row["name"].casefold() for row in first["rows"] + second["rows"]] == everything[: 2 * PAGE_SIZE]
    assert second["page"] == 2 and len(last["rows"]) == len(everything) - (last["page"] - 1) * PAGE_SIZE
    assert _search(operator_client, q="no policy has this name") == {"count": 0, "page": 1, "pages": 1, "rows": []}


def test_it_leaves_out_the_policies_it_is_told_to(iam, operator_client) -> None:
    everything = _search(operator_client, type=JOB_FUNCTION)
    found = _search(operator_client, type=JOB_FUNCTION, exclude=[READ_ONLY, BILLING])
    assert found["count"] == everything["count"] - 2
    names = [row["name"] for row in found["rows"]]
    assert "Billing" in [row["name"] for row in everything["rows"]] and "Billing" not in names


def test_it_reads_the_cached_index_and_a_change_made_here_shows_at_once(iam, operator_client) -> None:
    _search(operator_client)
    with CALLS.measure() as calls:
        found = _search(operator_client, q="readonlyaccess", type=JOB_FUNCTION)
    assert calls.total == 0
    assert found["rows"][0]["attachments"] == 0

    iam.create_user("arthur")
    iam.attach_user_policy("arthur", READ_ONLY)  # a new cache generation
    assert _search(operator_client, q="readonlyaccess", type=JOB_FUNCTION)["rows"][0]["attachments"] == 1


@pytest.mark.parametrize(
    "params",
    [
        {"page": "0"},
        {"page": "-1"},
        {"page": "two"},
        {"page": "9" * 5000},
        {"type": "Bogus"},
        {"q": "x" * 129},
        {"exclude": "not-an-arn"},
        {"exclude": [f"arn:aws:iam::aws:policy/P{i}" for i in range(MAX_EXCLUDED + 1)]},
    ],
    ids=["page-0", "page-negative", "page-word", "page-huge", "type", "long-query", "exclude-junk", "exclude-many"],
)
def test_it_answers_400_in_the_console_frame_to_bad_parameters(iam, operator_client, params) -> None:
    response = operator_client.get(SEARCH, params)
    html = response.content.decode()
    assert response.status_code == 400
    assert 'data-testid="bad-request">That is not a search of managed policies.' in html
    assert 'data-testid="backend-badge"' in html  # the console's frame


def test_it_lets_a_viewer_search_and_sends_anonymous_visitors_to_sign_in(iam, viewer_client, client) -> None:
    # Viewers read the Policies list: the same policies, a page at a time.
    assert _search(viewer_client, q="readonlyaccess")["count"] > 0
    response = client.get(SEARCH, {"q": "readonlyaccess"})
    assert response.status_code == 302 and response["Location"].startswith("/login/")


# --- The pages ------------------------------------------------------------------------------------


def test_a_create_group_error_keeps_the_policies_chosen_on_other_pages(iam, operator_client) -> None:
    response = operator_client.post(
        reverse("users:group_create"), {"name": "bad name!", "policies": [READ_ONLY, BILLING]}
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert _hidden(html, "policies") == [READ_ONLY, BILLING]  # neither is on the first page
    assert "Selected: <span data-picker-selected>ReadOnlyAccess, Billing</span>" in html
    assert re.search(r'data-picker-count-for="id_policies">2</span>/\d{4}\)', html)


def test_a_selection_on_the_first_page_is_checked_there_and_not_kept_twice(iam, operator_client) -> None:
    first = operator_client.get(reverse("users:group_create")).context["form"].policies_picker.first.rows[0]
    response = operator_client.post(reverse("users:group_create"), {"name": "", "policies": [first.arn, READ_ONLY]})
    html = response.content.decode()
    assert f'value="{first.arn}" id="id_policies-1" data-policy-name="{first.name}" checked>' in html
    assert _hidden(html, "policies") == [READ_ONLY]


def test_group_add_policies_leaves_out_what_the_group_has(iam, operator_client) -> None:
    iam.create_group("Developers")
    iam.attach_group_policy("Developers", READ_ONLY)
    html = operator_client.get(reverse("users:group_add_policies", args=["Developers"])).content.decode()
    assert f'data-search-url="{SEARCH}?exclude=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FReadOnlyAccess"' in html


def test_add_permissions_leaves_out_what_the_user_has_and_keeps_a_selection(iam, operator_client) -> None:
    iam.create_user("arthur")
    iam.attach_user_policy("arthur", BILLING)
    url = reverse("users:permissions_add", args=["arthur"])
    too_few = operator_client.post(
        url, {"add-option": "attach", "add-policies": [READ_ONLY, "arn:aws:iam::aws:policy/Nope"]}
    )
    html = too_few.content.decode()
    assert too_few.status_code == 400
    assert "Select a valid choice." in html and _hidden(html, "add-policies") == [READ_ONLY]
    assert "exclude=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2Fjob-function%2FBilling" in html


def _wizard_details(client):
    """A new wizard's details step, posted: the answer is step 2."""
    client.get(WIZARD)
    return client.post(
        WIZARD,
        {
            "add_user_wizard-current_step": "details",
            "details-user_name_0": "arthur",
            "details-access_type": ["programmatic"],
        },
    )


def test_the_wizard_keeps_policies_and_boundary_through_next_and_previous(iam, operator_client) -> None:
    _wizard_details(operator_client)
    permissions = {
        "add_user_wizard-current_step": "permissions",
        "permissions-option": "attach",
        "permissions-policies": [READ_ONLY, BILLING],
        "permissions-boundary": "policy",
        "permissions-boundary_policy": READ_ONLY,
    }
    assert "Add tags (optional)" in operator_client.post(WIZARD, permissions).content.decode()
    back = operator_client.post(WIZARD, {"add_user_wizard-current_step": "tags", "wizard_goto_step": "permissions"})
    html = back.content.decode()
    assert _hidden(html, "permissions-policies") == [READ_ONLY, BILLING]
    assert _hidden(html, "permissions-boundary_policy") == [READ_ONLY]
    assert html.count('type="radio" name="permissions-boundary_policy"') == PAGE_SIZE + 1  # and the row to fill in


def test_the_wizard_renders_each_policy_list_once_a_page_at_a_time(iam, operator_client) -> None:
    html = _wizard_details(operator_client).content.decode()
    for picker in ("policy-picker", "boundary-picker", "new-group-picker"):
        assert f'data-testid="{picker}"' in html
    assert html.count('<tr data-policy-arn="arn:') == 3 * PAGE_SIZE
    assert len(html) < 250_000


def _create_group_in_the_wizard(client, name: str, policies: list[str]):
    """Step 2's Create group dialog, submitted after a new wizard's step 1."""
    _wizard_details(client)
    return client.post(
        WIZARD,
        {
            "add_user_wizard-current_step": "permissions",
            "permissions-option": "group",
            "permissions-boundary": "none",
            "new_group-name": name,
            "new_group-policies": policies,
            "create_group": "1",
        },
    )


def test_the_create_group_dialog_keeps_its_policies_on_an_error(iam, operator_client) -> None:
    iam.create_group("Admins")
    response = _create_group_in_the_wizard(operator_client, "ADMINS", [BILLING])
    html = response.content.decode()
    assert "show-on-load" in html and _hidden(html, "new_group-policies") == [BILLING]


def test_the_wizard_shows_a_missing_boundary_policy_next_to_its_picker(iam, operator_client) -> None:
    _wizard_details(operator_client)
    step = {"add_user_wizard-current_step": "permissions", "permissions-option": "group"}
    response = operator_client.post(WIZARD, {**step, "permissions-boundary": "policy"})
    html = response.content.decode()
    assert '<details class="card mb-3" open>' in html
    assert 'data-testid="boundary-policy-error">Choose the policy to use as the permissions boundary.</div>' in html


def test_the_page_after_the_create_group_dialog_counts_the_new_attachments(iam, operator_client) -> None:
    response = _create_group_in_the_wizard(operator_client, "Billers", [BILLING])
    offered = {policy.arn: policy for policy in response.context["form"].policy_rows}
    assert response.context["form"]["groups"].value() == ["Billers"]
    assert offered[BILLING].attachment_count == 1
