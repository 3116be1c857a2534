"""The Permissions tab's actions: Remove, Add permissions (+ Review), Create inline policy and the
permissions boundary (unit: Django test client, moto's mock_aws)."""

from __future__ import annotations

import html as html_lib
import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.faults import inject
from users.iam.counter import CALLS
from users.iam.gateway import MUTATING

pytestmark = pytest.mark.django_db

READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
DATABASE_ADMIN = "arn:aws:iam::aws:policy/job-function/DatabaseAdministrator"
SECURITY_AUDIT = "arn:aws:iam::aws:policy/SecurityAudit"
BILLING = "arn:aws:iam::aws:policy/job-function/Billing"
S3_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
IN_ACCOUNT = ' <span class="in-account" data-testid="in-account">in account 123456789012</span>'


def _url(view: str, name: str = "arthur") -> str:
    return reverse(f"users:{view}", args=[name])


def _text(response) -> str:
    return html_lib.unescape(response.content.decode())


def _mutations(calls) -> int:
    return sum(count for operation, count in calls.by_operation.items() if operation in MUTATING)


def _arthur(iam) -> None:
    """arthur: ReadOnlyAccess directly, inline s3-all, and group dbas (DatabaseAdministrator +
    its inline group-inline)."""
    iam.create_user("arthur")
    iam.attach_user_policy("arthur", READ_ONLY)
    iam.put_user_policy("arthur", "s3-all", S3_ALL)
    iam.create_group("dbas")
    iam.attach_group_policy("dbas", DATABASE_ADMIN)
    iam.clients[0].put_group_policy(GroupName="dbas", PolicyName="group-inline", PolicyDocument=json.dumps(S3_ALL))
    iam.add_user_to_group("dbas", "arthur")


# --- Remove ------------------------------------------------------------------------------------


def test_it_asks_to_confirm_the_removal_of_a_policy(iam, operator_client) -> None:
    _arthur(iam)
    response = operator_client.get(_url("permissions_remove"), {"key": READ_ONLY})
    text = _text(response)
    assert response.status_code == 200
    assert "Remove policy for user?" in text and "Remove policy ReadOnlyAccess?" in text
    assert f">Remove policy{IN_ACCOUNT}</button>" in text  # the AWS backend names the account
    assert 'data-testid="group-warning"' not in text
    assert [policy.arn for policy in iam.list_attached_user_policies("arthur")] == [READ_ONLY]


def test_it_warns_that_removing_a_group_policy_removes_all_of_the_groups_policies(iam, operator_client) -> None:
    _arthur(iam)
    text = _text(operator_client.get(_url("permissions_remove"), {"key": DATABASE_ADMIN}))
    match = re.search(r'data-testid="group-warning">(.*?)</div>', text, re.S)
    assert match is not None
    warning = match.group(1)
    assert "removes arthur from group dbas" in warning
    assert re.findall(r"<li>(.*?)</li>", warning) == ["DatabaseAdministrator", "group-inline"]


def test_it_detaches_a_directly_attached_policy(iam, operator_client) -> None:
    _arthur(iam)
    response = operator_client.post(_url("permissions_remove"), {"key": READ_ONLY}, follow=True)
    assert response.redirect_chain[-1][0] == _url("detail") + "?section=permissions"
    assert "Policy ReadOnlyAccess removed." in _text(response)
    assert iam.list_attached_user_policies("arthur") == []
    assert [group.name for group in iam.list_groups_for_user("arthur")] == ["dbas"]


def test_it_deletes_an_inline_policy(iam, operator_client) -> None:
    _arthur(iam)
    response = operator_client.post(_url("permissions_remove"), {"key": "inline:s3-all"}, follow=True)
    assert "1 inline policy removed: s3-all." in _text(response)
    assert iam.list_user_policy_names("arthur") == []
    assert len(iam.list_attached_user_policies("arthur")) == 1


@pytest.mark.parametrize("key", [DATABASE_ADMIN, "group:dbas:group-inline"])
def test_removing_a_group_policy_removes_the_user_from_the_group(iam, operator_client, key) -> None:
    _arthur(iam)
    response = operator_client.post(_url("permissions_remove"), {"key": key}, follow=True)
    assert "arthur was removed from group dbas." in _text(response)
    assert iam.list_groups_for_user("arthur") == []
    assert [policy.arn for policy in iam.list_attached_group_policies("dbas")] == [DATABASE_ADMIN]
    assert [policy.arn for policy in iam.list_attached_user_policies("arthur")] == [READ_ONLY]


@pytest.mark.parametrize(
    "key",
    [
        "",
        "arn:aws:iam::aws:policy/AdministratorAccess",
        "inline:nope",
        "group:other:group-inline",
        "inline:",
        "x" * 5000,
    ],
)
def test_it_answers_404_for_a_row_the_user_does_not_have(iam, operator_client, key) -> None:
    _arthur(iam)
    with CALLS.measure() as calls:
        assert operator_client.get(_url("permissions_remove"), {"key": key}).status_code == 404
        assert operator_client.post(_url("permissions_remove"), {"key": key}).status_code == 404
    assert _mutations(calls) == 0


@pytest.mark.parametrize("name", ["nobody", "bad name!", "x" * 65])
def test_every_action_answers_404_for_an_unknown_user(iam, operator_client, name) -> None:
    for view in ("permissions_remove", "permissions_add", "inline_policy_create", "boundary_set", "boundary_remove"):
        assert operator_client.get(_url(view, name), {"key": READ_ONLY}).status_code == 404, view


def test_it_reports_a_removal_that_iam_refuses(iam, operator_client) -> None:
    _arthur(iam)
    with inject(iam, "DetachUserPolicy", "AccessDenied", status=403, message="Not allowed"):
        response = operator_client.post(_url("permissions_remove"), {"key": READ_ONLY}, follow=True)
    assert "Policy ReadOnlyAccess was not removed: IAM answered AccessDenied (Not allowed)." in _text(response)
    assert len(iam.list_attached_user_policies("arthur")) == 1


# --- Add permissions -----------------------------------------------------------------------------


def _add(client, name: str = "arthur", **data):
    return client.post(_url("permissions_add", name), {f"add-{key}": value for key, value in data.items()})


def _token(client, name: str = "arthur") -> str:
    review = client.get(_url("permissions_add_review", name))
    assert review.status_code == 200
    match = re.search(r'name="token" value="([^"]+)"', review.content.decode())
    assert match is not None
    return match.group(1)


def _confirm(client, name: str = "arthur"):
    return client.post(_url("permissions_add_review", name), {"token": _token(client, name)}, follow=True)


def _groups(iam, n: int, prefix: str = "g") -> list[str]:
    names = [f"{prefix}{i:02}" for i in range(n)]
    for name in names:
        iam.create_group(name)
    return names


def test_it_offers_the_three_options_with_the_consoles_words(iam, operator_client) -> None:
    _arthur(iam)
    text = _text(operator_client.get(_url("permissions_add")))
    for label in ("Add user to group", "Copy permissions", "Attach policies directly"):
        assert label in text
    assert "arthur is a member of 1 of 10 groups: you can add 9 more." in text
    assert f'value="{READ_ONLY}"' not in text  # already attached: not offered again
    assert 'value="dbas"' not in text  # already a member


def test_it_adds_the_user_to_groups_after_the_review(iam, operator_client) -> None:
    _arthur(iam)
    iam.create_group("devs")
    iam.attach_group_policy("devs", SECURITY_AUDIT)
    response = _add(operator_client, option="group", groups=["devs"])
    assert response.status_code == 302 and response.url == _url("permissions_add_review")
    assert [group.name for group in iam.list_groups_for_user("arthur")] == ["dbas"]  # nothing yet

    response = _confirm(operator_client)
    assert "Permissions added to arthur: group devs." in _text(response)
    assert {group.name for group in iam.list_groups_for_user("arthur")} == {"dbas", "devs"}


def test_the_review_shows_what_will_be_done(iam, operator_client) -> None:
    iam.create_user("arthur")
    iam.create_group("devs")
    iam.attach_group_policy("devs", SECURITY_AUDIT)
    _add(operator_client, option="group", groups=["devs"])
    text = _text(operator_client.get(_url("permissions_add_review")))
    assert "The following policies will be attached to this user." in text
    match = re.search(r'data-testid="review-permissions">(.*?)</table>', text, re.S)
    assert match is not None
    summary = match.group(1)
    assert "<td>devs</td><td>Group</td><td>Permissions group</td>" in summary
    assert re.search(r'data-testid="review-groups">.*<td>devs</td><td>SecurityAudit</td>', text, re.S)
    assert f">Add permissions{IN_ACCOUNT}</button>" in text  # the AWS backend names the account

    _add(operator_client, option="attach", policies=[BILLING])
    text = _text(operator_client.get(_url("permissions_add_review")))
    assert "<td>Billing</td><td>AWS managed - job function</td><td>Permissions policy</td>" in text
    assert 'data-testid="review-groups"' not in text


def test_it_keeps_a_user_within_ten_groups(iam, operator_client) -> None:
    iam.create_user("arthur")
    for group in _groups(iam, 9, "member"):
        iam.add_user_to_group(group, "arthur")
    _groups(iam, 2)
    with CALLS.measure() as calls:
        response = _add(operator_client, option="group", groups=["g00", "g01"])
    assert response.status_code == 400
    match = re.search(r'data-testid="groups-error">(.*?)</div>', _text(response))
    assert match is not None
    error = match.group(1)
    assert error == "A user can be a member of up to 10 groups: arthur is in 9, and 2 more would make 11."
    assert _mutations(calls) == 0 and len(iam.list_groups_for_user("arthur")) == 9
    assert _add(operator_client, option="group", groups=["g00"]).status_code == 302


def test_it_keeps_a_user_within_ten_managed_policies(iam, operator_client) -> None:
    iam.create_user("arthur")
    arns = [policy.arn for policy in iam.list_policies(scope="AWS") if policy.arn not in (READ_ONLY, BILLING)]
    for arn in arns[:9]:
        iam.attach_user_policy("arthur", arn)
    response = _add(operator_client, option="attach", policies=[READ_ONLY, BILLING])
    assert response.status_code == 400
    match = re.search(r'data-testid="policies-error">(.*?)</div>', _text(response))
    assert match is not None
    error = match.group(1)
    assert error == "A user can have up to 10 managed policies attached: arthur has 9, and 2 more would make 11."
    assert len(iam.list_attached_user_policies("arthur")) == 9
    assert operator_client.get(_url("permissions_add_review")).status_code == 302  # no plan to review


def test_it_needs_a_choice(iam, operator_client) -> None:
    iam.create_user("arthur")
    response = _add(operator_client, option="attach")
    assert response.status_code == 400
    assert re.search(r'data-testid="policies-error">Select one or more policies\.</div>', _text(response))
    assert _add(operator_client, option="nonsense").status_code == 400


def test_it_copies_groups_policies_inline_policies_and_the_boundary(iam, operator_client) -> None:
    _arthur(iam)
    iam.put_user_permissions_boundary("arthur", SECURITY_AUDIT)
    iam.create_group("devs")
    iam.add_user_to_group("devs", "arthur")
    iam.create_user("ford")
    iam.create_group("ops")
    iam.add_user_to_group("ops", "ford")
    iam.attach_user_policy("ford", BILLING)
    response = _add(operator_client, "ford", option="copy", copy_from="arthur")
    assert response.status_code == 302

    text = _text(operator_client.get(_url("permissions_add_review", "ford")))
    assert "<td>SecurityAudit</td><td>AWS managed - job function</td><td>Permissions boundary</td>" in text
    response = _confirm(operator_client, "ford")
    assert (
        "Permissions added to ford: group dbas, group devs, policy ReadOnlyAccess, inline policy s3-all, "
        "permissions boundary SecurityAudit." in _text(response)
    )
    assert {group.name for group in iam.list_groups_for_user("ford")} == {"dbas", "devs", "ops"}
    assert {policy.arn for policy in iam.list_attached_user_policies("ford")} == {READ_ONLY, BILLING}
    assert iam.get_user_policy_document("ford", "s3-all") == S3_ALL
    assert iam.get_user("ford").permissions_boundary_arn == SECURITY_AUDIT


def test_it_refuses_to_copy_an_inline_policy_over_the_users_own(iam, operator_client) -> None:
    _arthur(iam)
    iam.create_user("ford")
    iam.put_user_policy("ford", "S3-ALL", S3_ALL)
    response = _add(operator_client, "ford", option="copy", copy_from="arthur")
    assert response.status_code == 400
    assert "Inline policy s3-all: A policy named S3-ALL already exists for this user." in _text(response)


def test_it_says_what_was_added_and_what_was_not_after_a_failure(iam, operator_client) -> None:
    iam.create_user("arthur")
    iam.create_group("devs")
    iam.create_user("ford")
    iam.add_user_to_group("devs", "ford")
    iam.attach_user_policy("ford", READ_ONLY)
    iam.attach_user_policy("ford", BILLING)
    _add(operator_client, option="copy", copy_from="ford")
    token = _token(operator_client)
    with inject(iam, "AttachUserPolicy", "LimitExceeded", status=409, message="Cannot exceed quota"):
        response = operator_client.post(_url("permissions_add_review"), {"token": token}, follow=True)
    text = _text(response)
    assert "Added to arthur: group devs." in text
    failed = r"Not added: policy (ReadOnlyAccess|Billing) \(IAM answered LimitExceeded: Cannot exceed quota\)\."
    assert re.search(failed + r" Not tried: policy (ReadOnlyAccess|Billing)\.", text)
    assert [group.name for group in iam.list_groups_for_user("arthur")] == ["devs"]
    assert iam.list_attached_user_policies("arthur") == []


def test_it_applies_only_the_plan_the_review_showed(iam, operator_client) -> None:
    iam.create_user("arthur")
    _groups(iam, 2)
    _add(operator_client, option="group", groups=["g00"])
    token = _token(operator_client)
    _add(operator_client, option="group", groups=["g01"])  # another window
    response = operator_client.post(_url("permissions_add_review"), {"token": token})
    assert response.status_code == 400
    assert 'data-testid="stale-plan"' in response.content.decode()
    assert iam.list_groups_for_user("arthur") == []
    _confirm(operator_client)
    assert [group.name for group in iam.list_groups_for_user("arthur")] == ["g01"]
    assert _confirm_again_goes_back_to_the_options(operator_client)


def _confirm_again_goes_back_to_the_options(client: Client) -> bool:
    response = client.post(_url("permissions_add_review"), {"token": "used"})
    return response.status_code == 302 and response["Location"] == _url("permissions_add")


def test_previous_shows_the_choices_again(iam, operator_client) -> None:
    iam.create_user("arthur")
    _groups(iam, 2)
    _add(operator_client, option="group", groups=["g01"])
    text = operator_client.get(_url("permissions_add"), {"back": "1"}).content.decode()
    assert re.search(r'value="g01" id="group-2" checked', text)
    assert not re.search(r'value="g00" id="group-1" checked', text)


# --- Create inline policy -------------------------------------------------------------------------


def _create_inline(client, name: str, document: str, user: str = "arthur"):
    return client.post(_url("inline_policy_create", user), {"name": name, "document": document})


def _field_errors(response, testid: str) -> list[str]:
    return re.findall(rf'data-testid="{testid}">(.*?)</div>', _text(response), re.S)


def test_it_creates_an_inline_policy_with_the_normalized_document(iam, operator_client) -> None:
    iam.create_user("arthur")
    response = _create_inline(operator_client, "s3-all", json.dumps(S3_ALL, indent=4))
    assert response.status_code == 302 and response.url == _url("detail") + "?section=permissions"
    assert "Policy s3-all created." in _text(operator_client.get(response.url))
    assert iam.get_user_policy_document("arthur", "s3-all") == S3_ALL


def test_it_starts_the_editor_with_a_template(iam, operator_client) -> None:
    iam.create_user("arthur")
    text = _text(operator_client.get(_url("inline_policy_create")))
    assert '"Version": "2012-10-17"' in text and 'class="form-control font-monospace' in text
    assert "arthur's inline policies use 0 of 2048 characters" in text


def test_it_shows_a_syntax_error_with_its_line_and_column_next_to_the_document(iam, operator_client) -> None:
    iam.create_user("arthur")
    with CALLS.measure() as calls:
        response = _create_inline(operator_client, "broken", '{\n  "Version": "2012-10-17",\n  "Statement": [\n}')
    assert response.status_code == 400
    assert _field_errors(response, "document-error") == [
        "The policy is not valid JSON: Expecting value (line 4, column 1)."
    ]
    assert _field_errors(response, "name-error") == []
    assert _mutations(calls) == 0 and iam.list_user_policy_names("arthur") == []


def test_it_refuses_a_name_the_user_already_has_next_to_the_name(iam, operator_client) -> None:
    iam.create_user("arthur")
    iam.put_user_policy("arthur", "s3-all", S3_ALL)
    response = _create_inline(operator_client, "S3-All", json.dumps(S3_ALL))
    assert response.status_code == 400
    assert _field_errors(response, "name-error") == ["A policy named s3-all already exists for this user."]
    assert _field_errors(response, "document-error") == []


def _statement_document(actions: int) -> str:
    """A valid policy with `actions` Action entries of 20 characters each (quotes and comma
    included: "s3:GetObjectNNNNNN",) and generous indentation."""
    listed = ",\n          ".join(f'"s3:GetObject{n:06}"' for n in range(actions))
    return (
        '{\n  "Version": "2012-10-17",\n  "Statement": [\n    {\n      "Effect": "Allow",\n'
        f'      "Action": [\n          {listed}\n      ],\n      "Resource": "*"\n    }}\n  ]\n}}'
    )


def test_it_counts_the_users_inline_policies_together_without_whitespace(iam, operator_client) -> None:
    iam.create_user("arthur")
    iam.put_user_policy("arthur", "big", _statement_document(80))  # 1,763 characters without whitespace
    fits = _statement_document(9)  # 272 more make 2,035, though 424 with its whitespace
    assert len(fits) + 1_763 > 2_048
    assert _create_inline(operator_client, "fits", fits).status_code == 302
    response = _create_inline(operator_client, "too-much", _statement_document(1))
    assert response.status_code == 400
    assert _field_errors(response, "document-error") == [
        "The user's inline policies would total 2,139 characters (whitespace not counted); the limit is 2,048."
    ]
    assert set(iam.list_user_policy_names("arthur")) == {"big", "fits"}


def test_it_shows_iams_malformed_policy_document_next_to_the_document(iam, operator_client) -> None:
    iam.create_user("arthur")
    with inject(iam, "PutUserPolicy", "MalformedPolicyDocument", message="Policy has invalid resource"):
        response = _create_inline(operator_client, "s3-all", json.dumps(S3_ALL))
    assert response.status_code == 400
    assert _field_errors(response, "document-error") == ["IAM refused the policy: Policy has invalid resource"]
    assert iam.list_user_policy_names("arthur") == []


# --- Permissions boundary ------------------------------------------------------------------------


def test_it_sets_changes_and_removes_the_permissions_boundary(iam, operator_client) -> None:
    iam.create_user("arthur")
    page = _text(operator_client.get(_url("boundary_set")))
    assert "Set permissions boundary" in page and 'data-testid="boundary-picker"' in page

    response = operator_client.post(_url("boundary_set"), {"policy": "ReadOnlyAccess"}, follow=True)
    assert "Permissions boundary set to ReadOnlyAccess." in _text(response)
    assert iam.get_user("arthur").permissions_boundary_arn == READ_ONLY

    assert "Change permissions boundary" in _text(operator_client.get(_url("boundary_set")))
    response = operator_client.post(_url("boundary_set"), {"policy": SECURITY_AUDIT}, follow=True)
    assert "Permissions boundary changed to SecurityAudit." in _text(response)
    assert iam.get_user("arthur").permissions_boundary_arn == SECURITY_AUDIT

    confirm = _text(operator_client.get(_url("boundary_remove")))
    assert "Remove permissions boundary?" in confirm and SECURITY_AUDIT in confirm
    assert iam.get_user("arthur").permissions_boundary_arn == SECURITY_AUDIT
    response = operator_client.post(_url("boundary_remove"), follow=True)
    assert "Permissions boundary SecurityAudit removed." in _text(response)
    assert iam.get_user("arthur").permissions_boundary_arn is None


@pytest.mark.parametrize(
    "value, message",
    [
        ("", "Choose the policy to use as the permissions boundary."),
        ("NoSuchPolicy", "There is no managed policy with the name or ARN NoSuchPolicy."),
        (
            "arn:aws:iam::aws:policy/Nope",
            "There is no managed policy with the name or ARN arn:aws:iam::aws:policy/Nope.",
        ),
    ],
)
def test_it_refuses_a_boundary_that_is_not_a_managed_policy(iam, operator_client, value, message) -> None:
    iam.create_user("arthur")
    response = operator_client.post(_url("boundary_set"), {"policy": value})
    assert response.status_code == 400
    assert _field_errors(response, "policy-error") == [message]
    assert iam.get_user("arthur").permissions_boundary_arn is None


def test_it_asks_for_the_arn_of_a_name_two_policies_share(iam, operator_client) -> None:
    iam.create_user("arthur")
    iam.clients[0].create_policy(PolicyName="ReadOnlyAccess", PolicyDocument=json.dumps(S3_ALL))
    response = operator_client.post(_url("boundary_set"), {"policy": "ReadOnlyAccess"})
    assert response.status_code == 400
    assert _field_errors(response, "policy-error") == [
        "Several managed policies are named ReadOnlyAccess: enter the ARN of the one to use."
    ]


def test_removing_a_boundary_the_user_does_not_have_changes_nothing(iam, operator_client) -> None:
    iam.create_user("arthur")
    with CALLS.measure() as calls:
        response = operator_client.post(_url("boundary_remove"), follow=True)
    assert "arthur has no permissions boundary." in _text(response)
    assert _mutations(calls) == 0


# --- Access and cost -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "view, data",
    [
        ("permissions_remove", {"key": READ_ONLY}),
        ("permissions_add", {"add-option": "attach", "add-policies": [BILLING]}),
        ("permissions_add_review", {"token": "x"}),
        ("inline_policy_create", {"name": "s3-all", "document": json.dumps(S3_ALL)}),
        ("boundary_set", {"policy": READ_ONLY}),
        ("boundary_remove", {}),
    ],
)
def test_a_viewer_may_not_change_permissions(iam, viewer_client, view, data) -> None:
    _arthur(iam)
    iam.put_user_permissions_boundary("arthur", READ_ONLY)
    with CALLS.measure() as calls:
        assert viewer_client.post(_url(view), data).status_code == 403
        assert viewer_client.get(_url(view)).status_code == 403
    assert _mutations(calls) == 0


def test_a_viewer_sees_no_action_buttons(iam, viewer_client, operator_client) -> None:
    _arthur(iam)
    actions = (
        "Add permissions",
        "Create inline policy",
        'data-testid="remove-policy"',
        'name="key"',
        "Set permissions boundary",
    )
    viewer_page = viewer_client.get(_url("detail")).content.decode()
    operator_page = operator_client.get(_url("detail")).content.decode()
    assert [action for action in actions if action in viewer_page] == []
    assert [action for action in actions if action in operator_page] == list(actions)


@pytest.mark.parametrize(
    "view, params",
    [
        ("permissions_remove", {"key": DATABASE_ADMIN}),
        ("permissions_add", {}),
        ("inline_policy_create", {}),
        ("boundary_set", {}),
        ("boundary_remove", {}),
    ],
)
def test_each_page_costs_a_bounded_number_of_calls(iam, operator_client, view, params) -> None:
    _arthur(iam)
    iam.put_user_permissions_boundary("arthur", READ_ONLY)
    iam.create_access_key("arthur")
    iam.create_access_key("arthur")
    for n in range(9):
        iam.put_user_policy("arthur", f"inline{n}", S3_ALL)
    for group in _groups(iam, 8):
        iam.attach_group_policy(group, SECURITY_AUDIT)
        iam.add_user_to_group(group, "arthur")
    operator_client.get(_url(view), params)  # the cached indexes, warm

    with CALLS.measure() as calls:
        assert operator_client.get(_url(view), params).status_code == 200
    # The summary (at most 7 calls), then the page's own: 2 lists, or one GetUserPolicy per
    # inline policy (at most about 30 fit in the 2,048 characters).
    own = calls.by_operation["GetUserPolicy"]
    assert calls.total - own <= 9, calls.by_operation
    assert own in (0, 10)


def test_the_review_costs_a_bounded_number_of_calls(iam, operator_client) -> None:
    iam.create_user("arthur")
    for group in _groups(iam, 8):
        iam.attach_group_policy(group, SECURITY_AUDIT)
    _add(operator_client, option="group", groups=[f"g{n:02}" for n in range(8)])
    with CALLS.measure() as review:
        token = _token(operator_client)
    # The summary, one cached read of all groups' policies and the page frame's account info.
    assert review.total <= 7 + 1 + 2, review.by_operation
    with CALLS.measure() as changes:
        operator_client.post(_url("permissions_add_review"), {"token": token})
    assert changes.by_operation["AddUserToGroup"] == 8
    assert changes.total - 8 <= 7, changes.by_operation
    assert len(iam.list_groups_for_user("arthur")) == 8


def test_add_permissions_and_create_group_never_offer_a_service_linked_roles_policy(iam, operator_client) -> None:
    iam.create_user("arthur")
    not_attachable = {policy.arn for policy in iam.policy_index() if not policy.is_attachable}
    for url in (reverse("users:permissions_add", args=["arthur"]), reverse("users:group_create")):
        offered = operator_client.get(url).context["form"].policy_rows
        assert READ_ONLY in {policy.arn for policy in offered} and not not_attachable & {p.arn for p in offered}, url
    found = operator_client.get(reverse("users:policy_search"), {"q": "ServiceRolePolicy"}).json()
    assert found["count"] > 0 and not not_attachable & {row["arn"] for row in found["rows"]}
