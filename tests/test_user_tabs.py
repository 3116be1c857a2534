"""The Groups and Tags tabs' actions (unit: Django test client, moto's mock_aws)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.faults import inject

pytestmark = pytest.mark.django_db


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def _group_names(iam, name: str) -> list[str]:
    return sorted(group.name for group in iam.list_groups_for_user(name))


def _tags(prefix: str, pairs: list[tuple[str, str]]) -> dict[str, str]:
    data = {f"{prefix}-TOTAL_FORMS": str(len(pairs)), f"{prefix}-INITIAL_FORMS": "0"}
    for index, (key, value) in enumerate(pairs):
        data[f"{prefix}-{index}-key"], data[f"{prefix}-{index}-value"] = key, value
    return data


# --- Groups ----------------------------------------------------------------------------------


def test_it_adds_the_user_to_groups(iam, operator_client) -> None:
    iam.create_user("arthur")
    for group in ("devs", "ops", "qa"):
        iam.create_group(group)
    iam.add_user_to_group("qa", "arthur")
    url = reverse("users:user_groups_add", args=["arthur"])
    page = operator_client.get(url).content.decode()
    assert 'value="devs"' in page and 'value="qa"' not in page  # only the groups the user is not in
    response = operator_client.post(url, {"groups": ["devs", "ops"]}, follow=True)
    assert "User added to 2 groups: devs, ops." in _messages(response)
    assert _group_names(iam, "arthur") == ["devs", "ops", "qa"]


def test_it_keeps_a_user_within_10_groups(iam, operator_client) -> None:
    iam.create_user("arthur")
    for n in range(12):
        iam.create_group(f"g{n:02}")
    for n in range(9):
        iam.add_user_to_group(f"g{n:02}", "arthur")
    response = operator_client.post(reverse("users:user_groups_add", args=["arthur"]), {"groups": ["g09", "g10"]})
    assert response.status_code == 400
    assert "this one is in 9, so you can add 1 more." in response.content.decode()
    assert len(_group_names(iam, "arthur")) == 9


@pytest.mark.parametrize("groups", [[], ["devs"]], ids=["no-other-group", "one-other-group"])
def test_an_unknown_group_is_refused_next_to_the_field(iam, operator_client, groups) -> None:
    iam.create_user("arthur")
    for group in groups:
        iam.create_group(group)
    response = operator_client.post(reverse("users:user_groups_add", args=["arthur"]), {"groups": ["ghosts"]})
    assert response.status_code == 400
    assert "Select a valid choice. ghosts is not one of the available choices." in response.content.decode()
    assert _group_names(iam, "arthur") == []


def test_it_reports_a_group_iam_refused(iam, operator_client) -> None:
    iam.create_user("arthur")
    iam.create_group("devs")
    iam.create_group("ops")
    with inject(iam, "AddUserToGroup", "AccessDenied", status=403, message="Not allowed"):
        response = operator_client.post(
            reverse("users:user_groups_add", args=["arthur"]), {"groups": ["devs", "ops"]}, follow=True
        )
    assert "Not added to devs: AccessDenied. Not allowed" in _messages(response)
    assert "User added to group ops." in _messages(response)
    assert _group_names(iam, "arthur") == ["ops"]


def test_it_removes_the_user_from_groups_after_confirming(iam, operator_client) -> None:
    iam.create_user("arthur")
    for group in ("devs", "ops"):
        iam.create_group(group)
        iam.add_user_to_group(group, "arthur")
    url = reverse("users:user_groups_remove", args=["arthur"])
    confirm = operator_client.get(url, {"group": ["devs", "ops"]}).content.decode()
    assert "Remove arthur from 2 groups?" in confirm
    assert _group_names(iam, "arthur") == ["devs", "ops"]
    response = operator_client.post(url, {"group": ["devs"]}, follow=True)
    assert "User removed from 1 group: devs." in _messages(response)
    assert _group_names(iam, "arthur") == ["ops"]
    assert operator_client.post(url, {"group": ["devs"]}).status_code == 404  # not a member any more
    assert operator_client.get(url).status_code == 404  # nothing picked


# --- Tags ------------------------------------------------------------------------------------


def test_it_adds_changes_and_removes_tags_in_one_save(iam, operator_client) -> None:
    iam.create_user("arthur", tags={"team": "blue", "floor": "3"})
    url = reverse("users:user_tags", args=["arthur"])
    page = operator_client.get(url).content.decode()
    assert 'value="team"' in page and 'value="blue"' in page
    response = operator_client.post(url, _tags("form", [("team", "red"), ("cost-center", "42")]), follow=True)
    assert "Tags saved: 2 tags added or changed, 1 removed." in _messages(response)
    assert dict(iam.get_user("arthur").tags) == {"team": "red", "cost-center": "42"}


def test_a_key_that_differs_only_in_case_replaces_the_old_one(iam, operator_client) -> None:
    iam.create_user("arthur", tags={"Department": "finance"})
    operator_client.post(reverse("users:user_tags", args=["arthur"]), _tags("form", [("department", "hr")]))
    assert dict(iam.get_user("arthur").tags) == {"department": "hr"}


def test_bad_tags_are_shown_on_their_row_and_nothing_changes(iam, operator_client) -> None:
    iam.create_user("arthur", tags={"team": "blue"})
    response = operator_client.post(
        reverse("users:user_tags", args=["arthur"]), _tags("form", [("aws:owner", "x"), ("TEAM", "y"), ("team", "z")])
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Cannot start with aws:" in html and "You must specify a unique tag key." in html
    assert dict(iam.get_user("arthur").tags) == {"team": "blue"}


def test_the_console_tags_are_kept_and_count_towards_50(iam, operator_client) -> None:
    iam.create_user("arthur", tags={"iamconsole:created-by": "job/x/0", "team": "blue"})
    url = reverse("users:user_tags", args=["arthur"])
    assert "<code>iamconsole:created-by=job/x/0</code>" in operator_client.get(url).content.decode()
    too_many = _tags("form", [(f"k{n}", "v") for n in range(50)])
    response = operator_client.post(url, too_many)
    assert response.status_code == 400 and "You have exceeded the limit of 50 tags." in response.content.decode()
    operator_client.post(url, _tags("form", []))
    assert dict(iam.get_user("arthur").tags) == {"iamconsole:created-by": "job/x/0"}


def test_a_viewer_changes_no_group_or_tag(iam, viewer_client) -> None:
    iam.create_user("arthur", tags={"team": "blue"})
    iam.create_group("devs")
    assert (
        viewer_client.post(reverse("users:user_groups_add", args=["arthur"]), {"groups": ["devs"]}).status_code == 403
    )
    assert viewer_client.post(reverse("users:user_tags", args=["arthur"]), _tags("form", [])).status_code == 403
    assert _group_names(iam, "arthur") == [] and dict(iam.get_user("arthur").tags) == {"team": "blue"}
