"""The account the console changes, named where it matters: the top bar always shows the account
id, alias and the caller's ARN; on a real AWS backend every button that changes IAM says which
account it changes. And IAM_READ_ONLY: a banner on every page, no change by anyone (views,
gateway, job items), reads as before. IAM: moto's in-process `mock_aws`, which patches boto3,
so the "aws" backend (no endpoint, the tests' default) reaches it."""

from __future__ import annotations

import copyreg
import html
import io
import re
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from django.core.cache import cache
from django.urls import reverse

from users import imports, jobs, tasks
from users.iam.errors import ReadOnlyConsole
from users.iam.gateway import IamGateway
from users.iam.types import AccountInfo
from users.models import AuditEvent, Job, JobItem
from users.provisioning import UserPlan

pytestmark = pytest.mark.django_db

ACCOUNT = "123456789012"
ALIAS = "prod-alias"
CALLER_ARN = f"arn:aws:sts::{ACCOUNT}:user/moto"  # moto's GetCallerIdentity
IN_ACCOUNT = f"in account {ACCOUNT} ({ALIAS})"
READ_ONLY_POLICY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
BANNER = "Read-only: this console makes no changes to account"


def text(response: Any) -> str:
    """The page as a person reads it: no tags, white space collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def moto_iam() -> Any:
    """boto3 on moto's IAM, with no console code in between: what IAM really holds."""
    return boto3.client("iam", region_name="us-east-1")


@pytest.fixture
def account(iam: IamGateway) -> IamGateway:
    """The alias, arthur (an active access key, group devs, ReadOnlyAccess, a tag), an empty group ops."""
    iam.create_account_alias(ALIAS)
    iam.create_user("arthur", tags={"team": "blue"})
    iam.create_access_key("arthur")
    iam.create_group("devs")
    iam.create_group("ops")
    iam.add_user_to_group("devs", "arthur")
    iam.attach_group_policy("devs", READ_ONLY_POLICY)
    iam.attach_user_policy("arthur", READ_ONLY_POLICY)
    return iam


def _user(name: str) -> str:
    return f"/users/details/{name}/"


# --- The top bar --------------------------------------------------------------------------


def test_the_top_bar_shows_the_account_id_alias_and_caller_arn(account, operator_client) -> None:
    page = operator_client.get(reverse("users:list"))
    assert f"Account {ACCOUNT} ({ALIAS})" in text(page)
    assert f'data-testid="caller-arn" title="The AWS identity the console calls IAM as">{CALLER_ARN}<' in (
        page.content.decode()
    )


def test_an_account_info_cached_before_the_caller_arn_does_not_break_pages(
    account, operator_client, monkeypatch
) -> None:
    # The previous release cached a two-field AccountInfo (pickled) under "account-info:<endpoint>".
    old_key = "account-info:None"
    with monkeypatch.context() as old_release:
        # Pickled as dataclasses did then: a new object, then its state (two fields).
        old_pickle = lambda info: (copyreg.__newobj__, (AccountInfo,), [info.account_id, info.alias])  # type: ignore[attr-defined]  # noqa: E731
        old_release.setattr(AccountInfo, "__reduce__", old_pickle)
        cache.set(old_key, AccountInfo("999999999999", None), 300)
    assert not hasattr(cache.get(old_key), "caller_arn")
    page = operator_client.get(reverse("users:list"))
    assert page.status_code == 200
    assert CALLER_ARN in text(page) and "999999999999" not in text(page)


# --- The account next to every change button (AWS backend) ---------------------------------


def test_review_names_the_count_and_the_account(account, operator_client) -> None:
    url, prefix = reverse("users:create"), "add_user_wizard"

    def step(name: str, data: dict[str, Any]) -> Any:
        return operator_client.post(
            url, {f"{prefix}-current_step": name, **{f"{name}-{k}": v for k, v in data.items()}}
        )

    step("details", {"user_name_0": "ford", "user_name_1": "zaphod", "access_type": ["programmatic"]})
    step("permissions", {"option": "group", "groups": ["devs"], "boundary": "none"})
    review = step("tags", {"TOTAL_FORMS": "1", "INITIAL_FORMS": "0"})
    assert review.context["wizard"]["steps"].current == "review"
    assert f"Create 2 users {IN_ACCOUNT}" in text(review)


def test_the_import_confirmation_names_the_account(account, operator_client) -> None:
    file = io.BytesIO(f"{','.join(imports.COLUMNS)}\nford\nzaphod\ntrillian\n".encode())
    file.name = "team.csv"
    plan = operator_client.post(reverse("users:import"), {"file": file}, follow=True)
    assert f"Create 3 users {IN_ACCOUNT}" in text(plan)


def _key_id(iam: IamGateway) -> str:
    return iam.list_access_keys("arthur")[0].access_key_id


def _inactive_key(iam: IamGateway) -> str:
    """arthur's access key, deactivated (IAM deletes only inactive keys): its URL."""
    iam.update_access_key("arthur", _key_id(iam), "Inactive")
    return _user("arthur") + f"access-keys/{_key_id(iam)}/"


# (the page, how to arrange it, the change button's label)
CHANGE_PAGES: list[tuple[str, Callable[[IamGateway], str], str]] = [
    ("delete users", lambda iam: "/users/actions/delete/?user=arthur", "Delete"),
    ("delete groups", lambda iam: "/groups/actions/delete/?group=ops", "Delete"),
    ("create group", lambda iam: "/groups/actions/create/", "Create user group"),
    ("group: remove members", lambda iam: "/groups/devs/", "Remove"),
    ("group: add users", lambda iam: "/groups/ops/users/add/", "Add users"),
    ("group: attach policies", lambda iam: "/groups/ops/permissions/add/", "Attach policies"),
    ("user: add to groups", lambda iam: _user("arthur") + "groups/add/", "Add to groups"),
    ("user: remove from groups", lambda iam: _user("arthur") + "groups/remove/?group=devs", "Remove"),
    ("user: tags", lambda iam: _user("arthur") + "tags/", "Save changes"),
    (
        "user: remove policy",
        lambda iam: _user("arthur") + f"permissions/remove/?key={READ_ONLY_POLICY}",
        "Remove policy",
    ),
    ("user: boundary", lambda iam: _user("arthur") + "permissions/boundary/", "Set boundary"),
    ("user: inline policy", lambda iam: _user("arthur") + "permissions/inline/create/", "Create policy"),
    ("console access", lambda iam: _user("arthur") + "console-access/", "Apply"),
    ("assign MFA", lambda iam: _user("arthur") + "mfa-devices/assign/", "Next"),
    ("upload SSH key", lambda iam: _user("arthur") + "ssh-keys/upload/", "Upload SSH public key"),
    ("access key actions", lambda iam: _user("arthur") + "?section=security_credentials", "Actions"),
    ("delete access key", lambda iam: _inactive_key(iam) + "delete/", "Delete"),
    ("password policy", lambda iam: "/account/password-policy/", "Save changes"),
]


@pytest.mark.parametrize("arrange, label", [case[1:] for case in CHANGE_PAGES], ids=[case[0] for case in CHANGE_PAGES])
def test_change_pages_name_the_account_next_to_their_button(account, operator_client, arrange, label) -> None:
    page = operator_client.get(arrange(account))
    assert page.status_code == 200
    assert f"{label} {IN_ACCOUNT}" in text(page)


def test_other_backends_leave_the_buttons_as_they_are(account, operator_client, settings) -> None:
    settings.IAM_BACKEND = "embedded"  # the label only: the endpoint stays None, so mock_aws serves it
    delete = operator_client.get("/users/actions/delete/?user=arthur")
    assert "in account" not in text(delete) and "Delete" in text(delete)
    # ... and the top bar still shows the account.
    assert f"Account {ACCOUNT} ({ALIAS})" in text(delete) and CALLER_ARN in text(delete)
    tags = operator_client.get(_user("arthur") + "tags/")
    assert "in account" not in text(tags) and "Save changes" in text(tags)


def test_viewers_see_no_account_suffix_and_no_change_buttons(account, viewer_client) -> None:
    page = viewer_client.get(_user("arthur") + "?section=security_credentials")
    assert "in account" not in text(page) and "Deactivate" not in text(page)
    assert f"Account {ACCOUNT} ({ALIAS})" in text(page)


# --- IAM_READ_ONLY ----------------------------------------------------------------------------


@pytest.fixture
def read_only(settings) -> None:
    settings.IAM_READ_ONLY = True


def test_every_page_shows_the_read_only_banner(account, read_only, operator_client, client) -> None:
    for url in (reverse("users:list"), _user("arthur"), reverse("users:groups"), reverse("users:account_settings")):
        page = operator_client.get(url)
        assert page.status_code == 200
        assert f"{BANNER} {ACCOUNT} ({ALIAS})" in text(page), url
    # Before sign-in too, without naming the account.
    login = text(client.get("/login/"))
    assert "Read-only: this console makes no changes to IAM" in login and ACCOUNT not in login


def test_no_banner_when_changes_are_allowed(account, operator_client) -> None:
    assert "Read-only" not in text(operator_client.get(reverse("users:list")))


def test_read_only_hides_the_change_buttons_from_operators(account, read_only, operator_client) -> None:
    users = operator_client.get(reverse("users:list")).content.decode()
    assert 'data-testid="delete-users"' not in users and reverse("users:create") not in users
    details = operator_client.get(_user("arthur") + "?section=security_credentials").content.decode()
    assert 'data-testid="delete-user"' not in details and "Deactivate" not in details
    assert 'data-testid="create-access-key"' not in details
    group = operator_client.get("/groups/devs/").content.decode()
    assert 'data-testid="delete-group"' not in group and 'data-testid="remove-users"' not in group


def _state() -> dict[str, Any]:
    """What the change endpoints below could change, read from moto directly."""
    client = moto_iam()
    state: dict[str, Any] = {
        "users": sorted(user["UserName"] for user in client.list_users()["Users"]),
        "groups": {
            group["GroupName"]: sorted(
                user["UserName"] for user in client.get_group(GroupName=group["GroupName"])["Users"]
            )
            for group in client.list_groups()["Groups"]
        },
    }
    try:
        state["password_policy"] = client.get_account_password_policy()["PasswordPolicy"]
    except client.exceptions.NoSuchEntityException:
        state["password_policy"] = None
    if "arthur" in state["users"]:
        keys = client.list_access_keys(UserName="arthur")["AccessKeyMetadata"]
        state["arthur"] = {
            "keys": [(key["AccessKeyId"], key["Status"]) for key in keys],
            "tags": client.list_user_tags(UserName="arthur")["Tags"],
            "attached": client.list_attached_user_policies(UserName="arthur")["AttachedPolicies"],
            "boundary": client.get_user(UserName="arthur")["User"].get("PermissionsBoundary"),
            "login_profile": _has_login_profile(client),
        }
    return state


def _has_login_profile(client: Any) -> bool:
    try:
        client.get_login_profile(UserName="arthur")
    except client.exceptions.NoSuchEntityException:
        return False
    return True


def _changes(iam: IamGateway) -> dict[str, tuple[str, dict[str, Any]]]:
    """Change requests (URL, form), each of which changes IAM when the console may change it."""
    arthur = _user("arthur")
    tags = {"form-TOTAL_FORMS": "1", "form-INITIAL_FORMS": "0", "form-0-key": "team", "form-0-value": "red"}
    wizard = {"add_user_wizard-current_step": "details", "details-user_name_0": "ford"}
    return {
        "create users (wizard)": ("/users/create/", {**wizard, "details-access_type": ["programmatic"]}),
        "delete users": ("/users/actions/delete/", {"user": "arthur", "confirmation": "arthur"}),
        "create group": ("/groups/actions/create/", {"name": "admins"}),
        "add users to a group": ("/groups/ops/users/add/", {"users": ["arthur"]}),
        "remove a group member": ("/groups/devs/users/remove/", {"users": ["arthur"]}),
        "delete a group": ("/groups/actions/delete/", {"group": "ops", "confirmation": "ops"}),
        "tags": (arthur + "tags/", tags),
        "remove a policy": (arthur + "permissions/remove/", {"key": READ_ONLY_POLICY}),
        "set a boundary": (arthur + "permissions/boundary/", {"policy": "ReadOnlyAccess"}),
        "deactivate a key": (arthur + f"credentials/access-key/{_key_id(iam)}/status/", {"status": "Inactive"}),
        "console access": (arthur + "console-access/", {"console_access": "enable", "password_type": "autogenerated"}),
        "password policy": ("/account/password-policy/", {"policy": "custom", "minimum_length": "20"}),
    }


CHANGES = [
    "create users (wizard)", "delete users", "create group", "add users to a group", "remove a group member",
    "delete a group", "tags", "remove a policy", "set a boundary", "deactivate a key", "console access",
    "password policy",
]  # fmt: skip


@pytest.mark.parametrize("change", CHANGES)
def test_read_only_refuses_every_change_and_iam_stays_as_it_was(account, operator_client, settings, change) -> None:
    url, data = _changes(account)[change]
    before, audited = _state(), set(AuditEvent.objects.values_list("pk", flat=True))
    settings.IAM_READ_ONLY = True
    refused = operator_client.post(url, data)
    assert refused.status_code == 403
    assert "This console is read-only (IAM_READ_ONLY)" in text(refused)
    assert _state() == before
    assert list(AuditEvent.objects.exclude(pk__in=audited).values_list("action", flat=True)) == ["Refused"]
    # The same request is allowed once the console may change IAM: the refusal was read-only's.
    settings.IAM_READ_ONLY = False
    allowed = operator_client.post(url, data)
    assert allowed.status_code in (200, 302)
    if change != "create users (wizard)":  # its first step only moves on to the next step
        assert _state() != before


def test_the_gateway_refuses_a_mutating_call_and_still_reads(account, read_only) -> None:
    with pytest.raises(ReadOnlyConsole) as refused:
        account.create_user("ford")
    assert refused.value.code == "ReadOnlyConsole"
    message = "Read-only: this console makes no changes to IAM (IAM_READ_ONLY); CreateUser was not sent."
    assert str(refused.value) == message
    with pytest.raises(ReadOnlyConsole):
        account.create_access_key("arthur")  # its own client, no SDK retry: refused all the same
    assert [user["UserName"] for user in moto_iam().list_users()["Users"]] == ["arthur"]
    assert len(moto_iam().list_access_keys(UserName="arthur")["AccessKeyMetadata"]) == 1
    # The refusals are audited like any failed change.
    rows = AuditEvent.objects.filter(outcome="failure").values_list("action", "error_code")
    assert sorted(rows) == [("CreateAccessKey", "ReadOnlyConsole"), ("CreateUser", "ReadOnlyConsole")]
    # Reads work.
    assert [user.name for user in account.list_users()] == ["arthur"]
    assert account.account_info() == AccountInfo(ACCOUNT, ALIAS, caller_arn=CALLER_ARN)


def test_reads_still_work_in_read_only_mode(account, read_only, operator_client) -> None:
    assert "arthur" in text(operator_client.get(reverse("users:list")))
    assert "ReadOnlyAccess" in text(operator_client.get(_user("arthur") + "?section=permissions"))
    assert operator_client.get(reverse("users:policies")).status_code == 200


def test_read_only_creates_no_job(account, read_only, operator) -> None:
    with pytest.raises(ReadOnlyConsole):
        jobs.start_job(operator=operator, source=Job.Source.WIZARD, plans=[UserPlan(user_name="ford")])
    assert not Job.objects.exists()


def test_a_job_item_run_in_read_only_mode_fails_with_the_reason(account, operator, settings, monkeypatch) -> None:
    monkeypatch.setattr(jobs, "check_queue", lambda: None)
    job = jobs.start_job(operator=operator, source=Job.Source.WIZARD, plans=[UserPlan(user_name="ford")])
    item = job.items.get()
    settings.IAM_READ_ONLY = True  # switched on while the item waited in the queue
    tasks.run_job_items.run([item.pk])
    item.refresh_from_db()
    assert item.status == JobItem.Status.FAILED
    assert item.error_code == "ReadOnlyConsole"
    assert "Read-only: this console makes no changes to IAM" in item.error_message
    assert [user["UserName"] for user in moto_iam().list_users()["Users"]] == ["arthur"]


def test_viewers_are_refused_as_before(account, read_only, viewer_client) -> None:
    refused = viewer_client.post("/account/password-policy/", {"policy": "custom", "minimum_length": "20"})
    assert refused.status_code == 403
    assert "This console is read-only" in text(refused)
    assert moto_iam().list_users()["Users"][0]["UserName"] == "arthur"


def test_operators_still_manage_operators_mfa_in_read_only_mode(account, read_only, operator_client) -> None:
    """Resetting an operator's MFA changes the console's own accounts, not IAM."""
    assert operator_client.get(reverse("users:mfa_operators")).status_code == 200
    assert "Operators' MFA" in text(operator_client.get(reverse("users:mfa_status")))


def test_viewers_still_cannot_manage_operators(account, viewer_client) -> None:
    assert viewer_client.get(reverse("users:mfa_operators")).status_code == 403
