"""Stored XSS (RELIABILITY.md B8): script payloads planted, straight through boto3, in every
field IAM lets them into — paths (users, groups, policies, MFA devices: any printable ASCII
but the space), policy JSON, policy descriptions, SSH key comments, IAM's error text, a job's
step errors — and in tags as far as IAM's tag characters go (names of users, groups, policies
and MFA devices hold only [A-Za-z0-9+=,.@_-]: nothing to plant). Every page that shows them is
visited: no dialog opens, no planted element or script exists in the DOM (that catches an
unescaped payload even where the CSP would stop it from running), and the payload is shown
as text."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from unittest import mock
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from tests.faults import inject
from tests.iam_clients import direct_client
from tests.test_deletion import _ssh_key
from users import jobs, tasks
from users.models import Job, JobItem
from users.provisioning import UserPlan

from .conftest import browser_session, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# An IAM path is "/" or "/…/" of characters U+0021 to U+007E: quotes and angle brackets, no space.
PATH = '/"><svg/onload=alert(1)><script>alert(2)</script>/'
PATH_MARK = "<svg/onload=alert(1)>"
# Free text (policy documents and descriptions, SSH key bodies, IAM's messages) takes anything.
TEXT = "<img src=x onerror=alert(3)>'\"><script>alert(4)</script>"
TEXT_MARK = "<img src=x onerror=alert(3)>"
# A tag value holds only letters, spaces, digits and _ . : / = + - @: no markup gets in, but a
# URL scheme does.
TAG_VALUE = "javascript:alert//=+-@ 1"
ACCOUNT = "123456789012"
NAME = "victim"

DOCUMENT = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:PrincipalTag/team": TEXT}},
            }
        ],
    }
)
# What a planted payload would leave in the DOM, had it been parsed as markup.
PLANTED = "svg[onload], img[onerror], [onerror], [onload]"
SCRIPTS_WITH_ALERT = "() => [...document.scripts].filter((s) => s.textContent.includes('alert(')).length"


@pytest.fixture
def dialogs(page: Page) -> Iterator[list[str]]:
    """Every dialog the page opens (dismissed at once)."""
    opened: list[str] = []

    def record(dialog: Any) -> None:
        opened.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    yield opened


@pytest.fixture
def planted(iam_server: str) -> dict[str, str]:
    """A user, group, managed policy, inline policy, SSH key and MFA device carrying the payloads;
    their ids."""
    raw = direct_client(iam_server)
    raw.create_user(UserName=NAME, Path=PATH, Tags=[{"Key": "note", "Value": TAG_VALUE}])
    raw.create_group(GroupName="Evil", Path=PATH)
    raw.add_user_to_group(GroupName="Evil", UserName=NAME)
    policy = raw.create_policy(PolicyName="EvilPolicy", Path=PATH, Description=TEXT, PolicyDocument=DOCUMENT)
    arn = policy["Policy"]["Arn"]
    raw.attach_user_policy(UserName=NAME, PolicyArn=arn)
    raw.attach_group_policy(GroupName="Evil", PolicyArn=arn)
    raw.create_policy(PolicyName="EvilSpare", Path=PATH, Description=TEXT, PolicyDocument=DOCUMENT)  # attachable
    raw.put_user_policy(UserName=NAME, PolicyName="EvilInline", PolicyDocument=DOCUMENT)
    ssh = raw.upload_ssh_public_key(UserName=NAME, SSHPublicKeyBody=f"{_ssh_key()} {TEXT}")
    device = raw.create_virtual_mfa_device(VirtualMFADeviceName="phone", Path=PATH)
    serial = device["VirtualMFADevice"]["SerialNumber"]
    raw.enable_mfa_device(
        UserName=NAME, SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
    )
    key = raw.create_access_key(UserName=NAME)["AccessKey"]["AccessKeyId"]
    return {"policy_arn": arn, "ssh_key_id": ssh["SSHPublicKey"]["SSHPublicKeyId"], "key": key}


def _assert_inert(page: Page, dialogs: list[str], *shown: str) -> None:
    """No dialog, nothing planted in the DOM, and each of `shown` on the page as text."""
    page.wait_for_load_state("load")
    assert dialogs == [], page.url
    assert page.locator(PLANTED).count() == 0, page.url
    assert page.evaluate(SCRIPTS_WITH_ALERT) == 0, page.url
    text = page.locator("body").inner_text()
    for mark in shown:
        assert mark in text, (page.url, mark)


def test_payloads_in_every_field_iam_accepts_stay_text(
    page: Page, console: str, live_operator, planted, dialogs, screenshot
) -> None:
    sign_in(page, console)
    detail = f"{console}/users/details/{NAME}/"
    arn_query = quote(planted["policy_arn"], safe="")
    visits = [
        (f"{console}/users/", [PATH_MARK]),
        (f"{detail}", [PATH_MARK]),  # the Summary's ARN holds the path
        (f"{detail}?section=permissions", ["EvilPolicy", "EvilInline"]),
        (f"{detail}?section=groups", ["Evil"]),
        (f"{detail}?section=tags", [TAG_VALUE]),
        (f"{detail}?section=security_credentials", [PATH_MARK, planted["ssh_key_id"]]),
        (f"{detail}ssh-keys/{planted['ssh_key_id']}/", [TEXT_MARK]),
        (f"{console}/groups/", ["Evil"]),
        (f"{console}/groups/Evil/", ["EvilPolicy"]),
        (f"{console}/policies/?type=Customer+managed", ["EvilPolicy"]),
        (f"{console}/policies/details/?arn={arn_query}", [PATH_MARK, TEXT_MARK]),
        (f"{console}/users/create/", []),
    ]
    for url, shown in visits:
        page.goto(url)
        _assert_inert(page, dialogs, *shown)
    screenshot("policy-detail")

    # The policy JSON shown in the permissions tab's rows and the Add permissions table.
    for policy in ("EvilInline", "EvilPolicy"):
        page.goto(f"{detail}?section=permissions")
        page.get_by_label(f"Show the JSON of {policy}").first.click()
        expect(page.get_by_test_id("policy-json")).to_contain_text(TEXT_MARK)
        _assert_inert(page, dialogs, TEXT_MARK)
    page.goto(f"{detail}permissions/add/")
    page.get_by_text("Attach policies directly").click()
    page.get_by_label("Search policies").fill("EvilSpare")
    page.get_by_role("button", name="Show the policy JSON of EvilSpare").click()
    expect(page.locator("tr.policy-json pre")).to_contain_text(TEXT_MARK)
    _assert_inert(page, dialogs, TEXT_MARK)
    screenshot("add-permissions-json")


def test_iam_error_text_stays_text(
    page: Page, console: str, live_operator, planted, server_gateway, dialogs, screenshot
) -> None:
    sign_in(page, console)
    page.goto(f"{console}/users/details/{NAME}/?section=security_credentials")
    row = page.locator(f'tr[data-key="{planted["key"]}"]')
    with inject(server_gateway, "UpdateAccessKey", "AccessDenied", status=403, message=TEXT):
        row.get_by_role("button", name="Deactivate").click()
        _assert_inert(page, dialogs, TEXT_MARK)
    screenshot("failure-message")
    with inject(server_gateway, "GetUser", "AccessDenied", status=403, message=TEXT, times=10):
        page.goto(f"{console}/users/details/{NAME}/")
        _assert_inert(page, dialogs, TEXT_MARK)
    screenshot("error-page")


def test_a_jobs_planned_paths_and_step_errors_stay_text(
    page: Page, console: str, live_operator, planted, dialogs, screenshot
) -> None:
    sign_in(page, console)
    plan = UserPlan(
        user_name="newcomer",
        path=PATH,
        policy_arns=(planted["policy_arn"],),
        tags=(("note", TAG_VALUE),),
    )
    session = browser_session(page)
    with mock.patch.object(tasks, "enqueue"):  # no worker: the job's item is written below
        job = jobs.start_job(operator=live_operator, source=Job.Source.WIZARD, plans=[plan], session=session)
    session.save()
    at = "2026-01-01T00:00:00+00:00"
    failed = {"status": "failed", "error_code": "AccessDenied", "error_message": TEXT, "request_id": "r-1"}
    JobItem.objects.filter(job=job).update(
        status=JobItem.Status.FAILED,
        error_code="AccessDenied",
        error_message=TEXT,
        steps=[{"step": "CreateUser", **failed, "started_at": at, "at": at}],
    )
    for url in (f"{console}/jobs/{job.id}/", f"{console}/jobs/"):
        page.goto(url)
        _assert_inert(page, dialogs)
    page.goto(f"{console}/jobs/{job.id}/")
    expect(page.get_by_test_id("item-steps")).to_contain_text(TEXT_MARK)
    _assert_inert(page, dialogs, TEXT_MARK, PATH_MARK)
    screenshot("job")


def test_a_typed_user_name_in_the_audit_trail_stays_text(
    page: Page, console: str, live_operator, dialogs, screenshot
) -> None:
    sign_in(page, console, username=TEXT, password="wrong")  # a failed sign-in keeps what was typed
    sign_in(page, console)
    page.goto(f"{console}/audit/")
    _assert_inert(page, dialogs, TEXT_MARK)
    screenshot("audit")
