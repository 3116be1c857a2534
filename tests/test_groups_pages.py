"""The User groups pages: list, Create group, a group's users and permissions, Delete
(unit: Django test client, moto's mock_aws)."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from tests.faults import inject
from users.iam.counter import CALLS
from users.iam.errors import NoSuchEntity
from users.models import AuditEvent

pytestmark = pytest.mark.django_db

READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
BILLING = "arn:aws:iam::aws:policy/job-function/Billing"
S3_READ = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
DOCUMENT = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
LIST = reverse("users:groups")
CREATE = reverse("users:group_create")
DELETE = reverse("users:group_delete")


def _detail(name: str) -> str:
    return reverse("users:group_detail", args=[name])


def _group_exists(iam, name: str) -> bool:
    try:
        iam.get_group(name)
    except NoSuchEntity:
        return False
    return True


def _members(iam, name: str) -> list[str]:
    return sorted(user.name for user in iam.get_group(name)[1])


def _attached(iam, name: str) -> set[str]:
    return {policy.arn for policy in iam.list_attached_group_policies(name)}


def _policy_arns(iam, count: int) -> list[str]:
    """`count` customer managed policies."""
    client = iam.clients[0]
    return [client.create_policy(PolicyName=f"p{i}", PolicyDocument=DOCUMENT)["Policy"]["Arn"] for i in range(count)]


# --- The list ------------------------------------------------------------------------------


def test_it_lists_groups_with_their_users_permissions_and_creation_time(iam, operator_client) -> None:
    iam.create_group("Developers")
    iam.create_group("auditors")
    for name in ("arthur", "ford"):
        iam.create_user(name)
        iam.add_user_to_group("Developers", name)
    for arn in (READ_ONLY, BILLING, S3_READ):
        iam.attach_group_policy("Developers", arn)
    iam.clients[0].put_group_policy(GroupName="Developers", PolicyName="extra", PolicyDocument=DOCUMENT)

    response = operator_client.get(LIST)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'User groups <span class="count">(2)</span>' in html
    assert [(group.name, users) for group, users in response.context["rows"]] == [("auditors", 0), ("Developers", 2)]
    assert re.search(r"<th>Group name</th><th>Users</th><th>Permissions</th><th>Creation time</th>", html)
    assert "ReadOnlyAccess, Billing + 1 more; 1 inline" in html
    assert "Not defined" in html  # auditors
    assert f'href="{_detail("Developers")}"' in html
    assert 'data-testid="delete-groups"' in html and f'href="{CREATE}"' in html


def test_it_searches_groups_by_name_case_insensitively(iam, operator_client) -> None:
    for name in ("Developers", "devops", "auditors"):
        iam.create_group(name)
    rows = operator_client.get(LIST, {"q": "DEV"}).context["rows"]
    assert [group.name for group, _ in rows] == ["Developers", "devops"]
    assert "No user groups match" in operator_client.get(LIST, {"q": "nothing"}).content.decode()


@pytest.mark.parametrize("bad", [{"per_page": "1000"}, {"page": "x"}, {"q": "x" * 500}])
def test_it_never_fails_on_odd_query_strings(iam, operator_client, bad) -> None:
    iam.create_group("Developers")
    assert operator_client.get(LIST, bad).status_code == 200


def test_it_reads_the_list_with_a_bounded_number_of_calls_however_many_groups(iam, operator_client) -> None:
    for i in range(50):
        iam.create_group(f"group{i:02d}")
        iam.attach_group_policy(f"group{i:02d}", READ_ONLY)
    for i in range(20):
        iam.create_user(f"user{i:02d}")
        iam.add_user_to_group(f"group{i:02d}", f"user{i:02d}")
    operator_client.get(reverse("users:account_settings"))  # warms the cached account info

    with CALLS.measure() as calls:
        response = operator_client.get(LIST, {"per_page": 50})

    assert len(response.context["rows"]) == 50
    assert calls.total <= 3
    assert calls.by_operation["GetAccountAuthorizationDetails"] == 2  # groups, then users


# --- Create group --------------------------------------------------------------------------


def test_it_creates_a_group_and_attaches_the_chosen_policies(iam, operator_client) -> None:
    response = operator_client.post(CREATE, {"name": "Developers", "policies": [READ_ONLY, BILLING]}, follow=True)

    assert response.redirect_chain == [(_detail("Developers"), 302)]
    html = response.content.decode()
    assert "User group Developers created." in html
    assert "Policies attached to Developers: ReadOnlyAccess, Billing." in html
    assert _attached(iam, "Developers") == {READ_ONLY, BILLING}
    actions = list(AuditEvent.objects.order_by("id").values_list("action", "target", "outcome"))
    assert actions == [
        ("CreateGroup", "Developers", "success"),
        ("AttachGroupPolicy", "Developers", "success"),
        ("AttachGroupPolicy", "Developers", "success"),
    ]


def test_the_create_page_renders_the_first_page_of_policies_and_searches_the_others(iam, operator_client) -> None:
    response = operator_client.get(CREATE)
    html = response.content.decode()
    picker = response.context["form"].policies_picker
    assert 'data-testid="policy-picker"' in html
    assert picker.first.count == len(iam.attachable_policy_index()) > 1000
    assert html.count('<tr data-policy-arn="arn:') == 25  # one page, not every policy
    first = picker.first.rows[0]
    assert f'value="{first.arn}" id="id_policies-1" data-policy-name="{first.name}">' in html
    # Every policy, with its type, is a search away.
    found = operator_client.get(reverse("users:policy_search"), {"q": "billing", "type": "AWS managed - job function"})
    assert {"arn": BILLING, "name": "Billing", "type": "AWS managed - job function", "attachments": 0} in found.json()[
        "rows"
    ]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("bad name!", "The group name can have up to 128 characters."),
        ("a" * 129, "The group name can have up to 128 characters."),
        ("", "This field is required."),
    ],
    ids=["bad-character", "too-long", "empty"],
)
def test_a_bad_name_is_shown_next_to_the_field_and_creates_nothing(iam, operator_client, name, message) -> None:
    response = operator_client.post(CREATE, {"name": name, "policies": [READ_ONLY]})

    assert response.status_code == 400
    error = re.search(r'data-testid="name-error">([^<]*)<', response.content.decode())
    assert error and message in error.group(1)
    assert iam.list_groups() == []
    assert not AuditEvent.objects.exists()


def test_a_name_taken_in_another_case_is_refused(iam, operator_client) -> None:
    iam.create_group("Developers")
    response = operator_client.post(CREATE, {"name": "developers"})
    assert response.status_code == 400
    assert re.search(
        r'data-testid="name-error">A group with this name already exists\. Group names are not case sensitive\.<',
        response.content.decode(),
    )
    assert [group.name for group in iam.list_groups()] == ["Developers"]


def test_more_than_ten_policies_are_refused(iam, operator_client) -> None:
    arns = _policy_arns(iam, 11)
    response = operator_client.post(CREATE, {"name": "Developers", "policies": arns})
    assert response.status_code == 400
    assert "You can attach up to 10 policies to this user group." in response.content.decode()
    assert iam.list_groups() == []


def test_a_refused_create_group_says_nothing_was_created(iam, operator_client) -> None:
    with inject(iam, "CreateGroup", "LimitExceeded", message="Cannot exceed quota for GroupsPerAccount: 300"):
        response = operator_client.post(CREATE, {"name": "Developers", "policies": [READ_ONLY]})
    assert response.status_code == 400
    html = response.content.decode()
    assert (
        "IAM refused to create the group: LimitExceeded (Cannot exceed quota for GroupsPerAccount: 300). "
        "Nothing was created." in html
    )
    assert iam.list_groups() == []
    assert not AuditEvent.objects.filter(action="AttachGroupPolicy").exists()


def test_a_failed_attachment_says_what_was_attached_and_what_was_not(iam, operator_client) -> None:
    policies = [READ_ONLY, BILLING, S3_READ]
    with inject(iam, "AttachGroupPolicy", "AccessDenied", status=403, message="Not authorized"):
        response = operator_client.post(CREATE, {"name": "Developers", "policies": policies}, follow=True)

    html = response.content.decode()
    assert "User group Developers created." in html
    assert (
        "Could not attach ReadOnlyAccess: IAM answered AccessDenied (Not authorized). "
        "Not tried: Billing, AmazonS3ReadOnlyAccess." in html
    )
    assert _group_exists(iam, "Developers") and _attached(iam, "Developers") == set()


# --- A group's page --------------------------------------------------------------------------


def test_it_shows_the_summary_users_and_permissions(iam, operator_client) -> None:
    group = iam.create_group("Developers")
    for name in ("ford", "arthur"):
        iam.create_user(name)
        iam.add_user_to_group("Developers", name)
    iam.attach_group_policy("Developers", BILLING)
    iam.clients[0].put_group_policy(GroupName="Developers", PolicyName="extra", PolicyDocument=DOCUMENT)

    response = operator_client.get(_detail("Developers"))

    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-testid="arn">{group.arn}<' in html
    assert group.arn == "arn:aws:iam::123456789012:group/Developers"
    assert [user.name for user in response.context["members"]] == ["arthur", "ford"]
    assert 'Users <span class="count">(2)</span>' in html
    assert 'Permissions policies <span class="count">(2)</span>' in html
    assert f'href="{reverse("users:detail", args=["arthur"])}"' in html
    assert re.search(r">Billing</a></td>\s*<td>AWS managed - job function</td>", html)
    assert re.search(r"<td>extra</td>\s*<td>Customer inline</td>", html)


def test_the_page_makes_a_bounded_number_of_calls_however_many_users_and_policies(iam, operator_client) -> None:
    iam.create_group("Developers")
    for i in range(40):
        iam.create_user(f"user{i:02d}")
        iam.add_user_to_group("Developers", f"user{i:02d}")
    for arn in _policy_arns(iam, 10):
        iam.attach_group_policy("Developers", arn)

    with CALLS.measure() as calls:
        response = operator_client.get(_detail("Developers"))

    assert len(response.context["members"]) == 40 and len(response.context["attached"]) == 10
    assert calls.total <= 6  # GetGroup, ListAttachedGroupPolicies, ListGroupPolicies (+ account info)
    assert calls.by_operation["GetGroup"] == 1


@pytest.mark.parametrize("name", ["nobody", "bad name!", "a" * 129])
def test_it_answers_404_for_an_unknown_or_impossible_group(iam, operator_client, name) -> None:
    assert operator_client.get(_detail(name)).status_code == 404
    assert operator_client.get(reverse("users:group_add_users", args=[name])).status_code == 404
    assert operator_client.post(reverse("users:group_remove_users", args=[name]), {"users": "x"}).status_code == 404


def test_a_group_named_like_an_action_has_its_own_page(iam, operator_client) -> None:
    for name in ("create", "actions"):
        iam.create_group(name)
        assert operator_client.get(_detail(name)).context["group"].name == name
    assert "Create user group" in operator_client.get(CREATE).content.decode()


# --- Users of a group ------------------------------------------------------------------------


def test_it_adds_users_not_yet_in_the_group(iam, operator_client) -> None:
    iam.create_group("Developers")
    for name in ("arthur", "ford", "zaphod"):
        iam.create_user(name)
    iam.add_user_to_group("Developers", "zaphod")
    url = reverse("users:group_add_users", args=["Developers"])

    offered = operator_client.get(url).context["form"].candidates
    response = operator_client.post(url, {"users": ["arthur", "ford"]}, follow=True)

    assert [user.name for user in offered] == ["arthur", "ford"]
    assert response.redirect_chain == [(_detail("Developers"), 302)]
    assert "Users added to Developers: arthur, ford." in response.content.decode()
    assert _members(iam, "Developers") == ["arthur", "ford", "zaphod"]


@pytest.mark.parametrize("users", [[], ["zaphod"], ["nobody"]], ids=["none", "a-member", "unknown"])
def test_a_bad_selection_of_users_to_add_changes_nothing(iam, operator_client, users) -> None:
    iam.create_group("Developers")
    iam.create_user("zaphod")
    iam.add_user_to_group("Developers", "zaphod")
    audited = AuditEvent.objects.count()
    response = operator_client.post(reverse("users:group_add_users", args=["Developers"]), {"users": users})
    assert response.status_code == 400
    assert 'data-testid="users-error"' in response.content.decode()
    assert _members(iam, "Developers") == ["zaphod"]
    assert AuditEvent.objects.count() == audited


def test_a_user_already_in_ten_groups_cannot_be_added(iam, operator_client) -> None:
    iam.create_user("arthur")
    for i in range(10):
        iam.create_group(f"g{i}")
        iam.add_user_to_group(f"g{i}", "arthur")
    iam.create_group("Developers")
    response = operator_client.post(reverse("users:group_add_users", args=["Developers"]), {"users": ["arthur"]})
    assert response.status_code == 400
    assert "A user can be a member of up to 10 groups at a time. Already in 10: arthur." in response.content.decode()
    assert _members(iam, "Developers") == []


def test_it_removes_the_selected_users(iam, operator_client) -> None:
    iam.create_group("Developers")
    for name in ("arthur", "ford"):
        iam.create_user(name)
        iam.add_user_to_group("Developers", name)
    url = reverse("users:group_remove_users", args=["Developers"])
    response = operator_client.post(url, {"users": ["ford"]}, follow=True)
    assert "Users removed from Developers: ford." in response.content.decode()
    assert _members(iam, "Developers") == ["arthur"]
    assert iam.get_user("ford").name == "ford"  # removed from the group, not deleted


def test_removing_a_user_not_in_the_group_is_shown_on_the_page_and_changes_nothing(iam, operator_client) -> None:
    iam.create_group("Developers")
    for name in ("arthur", "ford"):
        iam.create_user(name)
    iam.add_user_to_group("Developers", "arthur")
    response = operator_client.post(reverse("users:group_remove_users", args=["Developers"]), {"users": ["ford"]})
    assert response.status_code == 400
    assert re.search(
        r'data-testid="remove-users-error">Select a valid choice\. ford is not one', response.content.decode()
    )
    assert _members(iam, "Developers") == ["arthur"]


# --- Permissions of a group ------------------------------------------------------------------


def test_it_attaches_policies_within_the_quota_of_ten(iam, operator_client) -> None:
    iam.create_group("Developers")
    arns = _policy_arns(iam, 11)
    for arn in arns[:8]:
        iam.attach_group_policy("Developers", arn)
    url = reverse("users:group_add_policies", args=["Developers"])

    page = operator_client.get(url)
    too_many = operator_client.post(url, {"policies": [READ_ONLY, BILLING, arns[8]]})
    within = operator_client.post(url, {"policies": [READ_ONLY, BILLING]}, follow=True)

    assert arns[0] not in {policy.arn for policy in page.context["form"].candidates}  # attached already
    assert "Developers has 8 of 10 policies attached: you can attach 2 more." in page.content.decode()
    assert too_many.status_code == 400
    assert "It has 8 attached: choose up to 2 more (3 chosen)." in too_many.content.decode()
    assert "Policies attached to Developers: ReadOnlyAccess, Billing." in within.content.decode()
    assert _attached(iam, "Developers") == set(arns[:8]) | {READ_ONLY, BILLING}


def test_a_full_group_offers_no_attachment(iam, operator_client) -> None:
    iam.create_group("Developers")
    for arn in _policy_arns(iam, 10):
        iam.attach_group_policy("Developers", arn)
    url = reverse("users:group_add_policies", args=["Developers"])
    assert re.search(
        r'<button type="submit" class="btn btn-primary" disabled>Attach policies',
        operator_client.get(url).content.decode(),
    )
    response = operator_client.post(url, {"policies": [READ_ONLY]})
    assert response.status_code == 400 and READ_ONLY not in _attached(iam, "Developers")


def test_it_detaches_the_selected_policies(iam, operator_client) -> None:
    iam.create_group("Developers")
    iam.attach_group_policy("Developers", READ_ONLY)
    iam.attach_group_policy("Developers", BILLING)
    url = reverse("users:group_remove_policies", args=["Developers"])

    refused = operator_client.post(url, {"policies": [S3_READ]})
    response = operator_client.post(url, {"policies": [READ_ONLY]}, follow=True)

    assert refused.status_code == 400 and 'data-testid="remove-policies-error"' in refused.content.decode()
    assert "Policies detached from Developers: ReadOnlyAccess." in response.content.decode()
    assert _attached(iam, "Developers") == {BILLING}
    assert AuditEvent.objects.filter(action="DetachGroupPolicy", target="Developers", outcome="success").count() == 1


# --- Delete ------------------------------------------------------------------------------------


def _full_group(iam) -> None:
    iam.create_group("Developers")
    for name in ("arthur", "ford"):
        iam.create_user(name)
        iam.add_user_to_group("Developers", name)
    iam.attach_group_policy("Developers", READ_ONLY)
    iam.clients[0].put_group_policy(GroupName="Developers", PolicyName="extra", PolicyDocument=DOCUMENT)


def test_it_asks_for_the_group_name_before_deleting(iam, operator_client) -> None:
    iam.create_group("Developers")
    html = operator_client.get(DELETE, {"group": "Developers"}).content.decode()
    assert "Delete Developers?" in html
    assert "To confirm deletion, enter the user group name in the text input field." in html
    wrong = operator_client.post(DELETE, {"group": "Developers", "confirmation": "developers"})
    assert wrong.status_code == 400
    assert re.search(
        r'id="error_1_id_confirmation"[^>]*>\s*<strong>Enter Developers to confirm\.</strong>', wrong.content.decode()
    )
    assert _group_exists(iam, "Developers")


def test_it_deletes_the_group_after_removing_its_users_and_policies(iam, operator_client) -> None:
    _full_group(iam)
    operator_client.get(LIST)  # the groups index is cached

    response = operator_client.post(DELETE, {"group": "Developers", "confirmation": "Developers"})

    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-deleted="yes"' in html
    for step in (
        "Member arthur",
        "Member ford",
        "Inline policy extra",
        "Policy ReadOnlyAccess (detached; the policy is kept)",
        "User group Developers",
    ):
        assert re.search(r'data-step-status="done">.*' + re.escape(step), html)
    assert not _group_exists(iam, "Developers")
    assert [user.name for user in iam.list_users()] == ["arthur", "ford"]
    assert iam.list_groups_for_user("arthur") == []
    assert iam.group_index() == []  # the cached index was replaced
    assert AuditEvent.objects.filter(action="DeleteGroup", target="Developers", outcome="success").exists()


def test_a_failed_step_stops_the_deletion_and_says_what_was_done(iam, operator_client) -> None:
    _full_group(iam)
    with inject(iam, "DetachGroupPolicy", "AccessDenied", status=403, message="User is not authorized"):
        response = operator_client.post(DELETE, {"group": "Developers", "confirmation": "Developers"})

    html = response.content.decode()
    assert 'data-deleted="no"' in html and "Not deleted" in html
    assert re.search(r'data-step-status="done">.*Inline policy extra', html)
    assert re.search(
        r'data-step-status="failed">.*DetachGroupPolicy: <strong>AccessDenied</strong> User is not authorized', html
    )
    assert "nothing after it was done, and the user group still exists" in html
    assert _group_exists(iam, "Developers")
    assert _members(iam, "Developers") == [] and iam.list_group_policy_names("Developers") == []
    assert _attached(iam, "Developers") == {READ_ONLY}
    assert not AuditEvent.objects.filter(action="DeleteGroup").exists()

    again = operator_client.post(DELETE, {"group": "Developers", "confirmation": "Developers"})
    assert 'data-deleted="yes"' in again.content.decode() and not _group_exists(iam, "Developers")


def test_it_deletes_several_groups_with_delete_typed(iam, operator_client) -> None:
    for name in ("a", "b"):
        iam.create_group(name)
    html = operator_client.get(DELETE, {"group": ["a", "b"]}).content.decode()
    assert "Delete 2 user groups?" in html and "enter delete in the text input field" in html
    response = operator_client.post(DELETE, {"group": ["a", "b", "gone"], "confirmation": "delete"})
    html = response.content.decode()
    assert html.count('data-deleted="yes"') == 3 and "Already deleted" in html
    assert iam.list_groups() == []


def test_deleting_without_a_selection_goes_back_to_the_list(iam, operator_client) -> None:
    response = operator_client.get(DELETE, follow=True)
    assert response.redirect_chain == [(LIST, 302)]
    assert "Select one or more user groups to delete." in response.content.decode()
    assert operator_client.get(DELETE, {"group": "bad name!"}).status_code == 400


# --- Viewers -----------------------------------------------------------------------------------


def test_a_viewer_reads_the_pages_without_change_buttons(iam, viewer_client) -> None:
    _full_group(iam)
    listed = viewer_client.get(LIST).content.decode()
    details = viewer_client.get(_detail("Developers")).content.decode()
    assert "Developers" in listed and 'data-testid="delete-groups"' not in listed and "Create group" not in listed
    assert "arthur" in details
    for marker in (
        'data-testid="delete-group"',
        'data-testid="remove-users"',
        "Add users",
        "Add permissions",
        'type="checkbox"',
    ):
        assert marker not in details


def test_a_viewer_may_change_nothing(iam, viewer_client) -> None:
    _full_group(iam)
    iam.create_user("zaphod")
    attempts = [
        ("get", CREATE, {}),
        ("post", CREATE, {"name": "Other"}),
        ("post", reverse("users:group_add_users", args=["Developers"]), {"users": ["zaphod"]}),
        ("post", reverse("users:group_remove_users", args=["Developers"]), {"users": ["arthur"]}),
        ("post", reverse("users:group_add_policies", args=["Developers"]), {"policies": [BILLING]}),
        ("post", reverse("users:group_remove_policies", args=["Developers"]), {"policies": [READ_ONLY]}),
        ("post", DELETE, {"group": "Developers", "confirmation": "Developers"}),
    ]
    for method, url, data in attempts:
        assert getattr(viewer_client, method)(url, data).status_code == 403, url
    assert [group.name for group in iam.list_groups()] == ["Developers"]
    assert _members(iam, "Developers") == ["arthur", "ford"] and _attached(iam, "Developers") == {READ_ONLY}


def test_the_navigation_links_to_the_groups_and_marks_it_active(iam, operator_client) -> None:
    html = operator_client.get(LIST).content.decode()
    assert f'<a class="nav-link active" href="{LIST}">User groups</a>' in html
    assert f'<a class="nav-link" href="{reverse("users:policies")}">Policies</a>' in html


@pytest.mark.parametrize("url", [LIST, CREATE, _detail("Developers"), reverse("users:policies")])
def test_it_sends_anonymous_visitors_to_sign_in(client, url) -> None:
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/login/")
