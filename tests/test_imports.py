"""The bulk import's dry run and confirmation (users/imports.py), on moto's in-process IAM.

The dry run checks every row with the wizard's rules before any IAM write; confirming starts
one job, once. The files the import refuses as a whole are in tests/test_import_files.py.
"""

from __future__ import annotations

import io
import json
import re
import tracemalloc
from datetime import timedelta

import boto3
import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from users import imports, jobs
from users.iam.counter import CALLS
from users.iam.gateway import IamGateway
from users.models import AuditEvent, ImportRow, Job, UserImport
from users.provisioning import CHANGE_PASSWORD_POLICY_ARN, UserPlan
from users.roles import OPERATORS
from users.validators import USER_NAME_MESSAGE

HEADER = ",".join(imports.COLUMNS)
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"


def _csv(*rows: str, header: str = HEADER) -> io.BytesIO:
    return io.BytesIO("\n".join([header, *rows]).encode())


def _dry_run(iam: IamGateway, operator, *rows: str, header: str = HEADER) -> UserImport:
    return imports.dry_run(_csv(*rows, header=header), file_name="users.csv", operator=operator, gateway=iam)


def _errors(upload: UserImport) -> dict[int, list[tuple[str, str]]]:
    return {
        row.line: [(error["column"], error["message"]) for error in row.errors]
        for row in upload.rows.filter(is_valid=False)
    }


def _plan(row: ImportRow) -> UserPlan:
    """The plan of a valid row."""
    assert row.plan is not None
    return UserPlan.from_json(row.plan)


def _create_policy(name: str, effect: str) -> None:
    """A customer managed policy, made with boto3 (the gateway has no CreatePolicy yet)."""
    document = {"Version": "2012-10-17", "Statement": [{"Effect": effect, "Action": "s3:*", "Resource": "*"}]}
    boto3.client("iam", region_name="us-east-1").create_policy(PolicyName=name, PolicyDocument=json.dumps(document))


@pytest.fixture
def account(iam: IamGateway) -> IamGateway:
    """Two groups and a customer managed policy to refer to."""
    iam.create_group("Developers")
    iam.create_group("Ops")
    _create_policy("TeamBoundary", "Allow")
    return iam


def test_a_valid_row_becomes_the_plan_the_wizard_would_make(account, operator) -> None:
    upload = _dry_run(
        account,
        operator,
        "alice,/eng/,developers; Ops,ReadOnlyAccess,TeamBoundary,team=web; cost center = 12,yes,,yes",
    )
    assert (upload.rows_total, upload.rows_invalid, upload.errors, upload.is_valid) == (1, 0, [], True)
    row = upload.rows.get()
    boundary = next(p.arn for p in account.policy_index() if p.name == "TeamBoundary")
    assert _plan(row) == UserPlan(
        user_name="alice",
        path="/eng/",
        console_access=True,
        password_reset_required=True,
        programmatic_access=True,
        # The IAM default password policy does not let users change their password.
        attach_change_password=True,
        groups=("Developers", "Ops"),  # spelled as IAM has them
        policy_arns=(READ_ONLY,),
        permissions_boundary=boundary,
        tags=(("team", "web"), ("cost center", "12")),
    )
    assert row.line == 2 and row.errors == []


def test_defaults_are_no_console_no_key_and_a_reset_when_there_is_a_console(account, operator) -> None:
    header = "user_name,path,groups,policies,permissions_boundary,tags,console_access"
    upload = _dry_run(account, operator, "bob", "carol,,,,,,yes", header=header)
    bob, carol = (_plan(row) for row in upload.rows.all())
    assert (bob.console_access, bob.programmatic_access, bob.password_reset_required) == (False, False, False)
    assert bob.path == "/"
    assert (carol.console_access, carol.password_reset_required) == (True, True)


def test_the_header_may_come_in_any_order_and_case_with_a_bom(account, operator) -> None:
    file = io.BytesIO("\ufeffProgrammatic_Access , USER_NAME\r\nyes,dave\r\n\r\n".encode())
    upload = imports.dry_run(file, file_name="x.csv", operator=operator, gateway=account)
    plan = _plan(upload.rows.get())
    assert (plan.user_name, plan.programmatic_access, upload.rows_total) == ("dave", True, 1)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"user_name\nok\nfine\n\xff\xfebad\n", "Line 4 is not UTF-8 text."),
        (b"user_name\nA\x00B\n", "Line 2 holds a NUL character: this is not a CSV text file."),
        (b"user_name\rx\ry\r", "Line 2 is not valid CSV (a line break in a cell without quotes, or lines"),
    ],
)
def test_a_file_that_is_not_csv_text_is_refused_with_its_line(iam, operator, data: bytes, message: str) -> None:
    with pytest.raises(imports.ImportFileError, match=re.escape(message)):
        imports.dry_run(io.BytesIO(data), file_name="x.csv", operator=operator, gateway=iam)
    assert not UserImport.objects.exists()


def test_a_quoted_cell_may_hold_a_line_break(account, operator) -> None:
    upload = _dry_run(account, operator, '"eve","a=1;\nb=2"', header="user_name,tags")
    row = upload.rows.get()
    assert (row.line, _plan(row).tags) == (3, (("a", "1"), ("b", "2")))


def test_each_rule_gives_its_own_message_on_its_column(account, operator) -> None:
    account.create_user("Existing")
    eleven_groups = ";".join(f"g{i}" for i in range(11))
    upload = _dry_run(
        account,
        operator,
        "José",
        "existing",
        "erin,nopath,Nobody,NoSuchPolicy,arn:aws:iam::123456789012:policy/Gone,aws:x=1,maybe",
        "frank,,," + ";".join(["ReadOnlyAccess"] * 2) + ",,bad key!=v,,,perhaps",
        f"gina,,{eleven_groups}",
        "",
        "ERIN",
    )
    errors = _errors(upload)
    assert errors[2] == [("user_name", USER_NAME_MESSAGE)]
    assert errors[3] == [("user_name", "A user named Existing already exists.")]
    assert [column for column, _ in errors[4]] == [
        "path",
        "groups",
        "policies",
        "permissions_boundary",
        "tags",
        "console_access",
    ]
    assert ("groups", "No such group: “Nobody”.") in errors[4]
    assert ("policies", "No managed policy named NoSuchPolicy.") in errors[4]
    assert (
        "permissions_boundary",
        "No managed policy has the ARN arn:aws:iam::123456789012:policy/Gone.",
    ) in errors[4]
    assert errors[4][-1] == ("console_access", "Enter yes or no, not “maybe”.")
    # The same policy twice is one policy; a bad tag key and a bad flag are reported.
    assert [column for column, _ in errors[5]] == ["tags", "programmatic_access"]
    assert any(column == "groups" and "up to 10 groups (11 given)" in message for column, message in errors[6])
    # Blank lines are skipped, and names are unique regardless of case within the file.
    assert errors[8] == [("user_name", "Same user name as line 4 (user names are unique regardless of case).")]
    assert upload.rows_total == 6 and upload.rows_invalid == 6 and not upload.is_valid


def test_ten_policies_are_too_many_when_the_password_rule_adds_iamuserchangepassword(account, operator) -> None:
    ten = ";".join(p.arn for p in account.policy_index() if p.is_aws_managed)
    ten = ";".join(ten.split(";")[:10])
    upload = _dry_run(account, operator, f"hal,,,{ten},,,no", f"ivy,,,{ten},,,yes,yes")
    errors = _errors(upload)
    assert 2 not in errors
    assert errors[3] == [
        (
            "policies",
            "A user can have up to 10 managed policies attached (11, IAMUserChangePassword included, "
            "as users must reset their password).",
        )
    ]


def test_iamuserchangepassword_listed_by_hand_is_attached_once(account, operator) -> None:
    upload = _dry_run(account, operator, "jo,,,IAMUserChangePassword,,,yes,yes")
    plan = _plan(upload.rows.get())
    assert plan.attach_change_password and CHANGE_PASSWORD_POLICY_ARN not in plan.policy_arns
    assert plan.step_names().count(f"AttachUserPolicy:{CHANGE_PASSWORD_POLICY_ARN}") == 1


def test_a_policy_name_two_policies_share_must_be_given_as_an_arn(account, operator) -> None:
    _create_policy("ReadOnlyAccess", "Deny")
    upload = _dry_run(account, operator, "kim,,,ReadOnlyAccess", f"lee,,,{READ_ONLY}")
    assert _errors(upload) == {
        2: [("policies", "Several policies are named ReadOnlyAccess; give the ARN of the one you mean.")]
    }


def test_a_cell_that_spreadsheets_would_run_is_refused_with_that_reason_only(account, operator) -> None:
    upload = _dry_run(account, operator, "=A1+B1", "mo,,,,,-1=x", "ned,,@Ops")
    errors = _errors(upload)
    reason = "which spreadsheets run as a formula. Save the sheet with plain values."
    assert errors[2] == [("user_name", f"Starts with “=”, {reason}")]
    assert errors[3] == [("tags", f"Starts with “-”, {reason}")]
    assert errors[4] == [("groups", f"Starts with “@”, {reason}")]


def test_the_account_quota_counts_existing_users(account, operator, monkeypatch) -> None:
    account.create_user("old")
    monkeypatch.setattr(imports, "MAX_USERS_PER_ACCOUNT", 3)
    upload = _dry_run(account, operator, "a1", "a2", "a3")
    assert upload.rows_invalid == 0 and not upload.is_valid
    assert upload.errors == ["The account has 1 users: 3 more would pass IAM's quota of 3 users per account."]


def test_the_dry_run_makes_no_change_to_iam(account, operator) -> None:
    before = AuditEvent.objects.count()
    with CALLS.measure() as calls:
        _dry_run(account, operator, *(f"user{i},,Developers,ReadOnlyAccess,,t=1,yes,yes,yes" for i in range(50)))
    assert AuditEvent.objects.count() == before
    assert not [op for op in calls.by_operation if not op.startswith(("Get", "List"))]
    assert account.list_users() == []


def test_the_dry_run_reads_the_managed_policies_only_for_a_file_that_names_one(account, operator) -> None:
    with CALLS.measure() as calls:
        _dry_run(account, operator, *(f"user{i},,Developers,,,t=1,yes,yes,yes" for i in range(20)))
    assert calls.by_operation["ListPolicies"] == 0 and calls.by_operation["GetAccountAuthorizationDetails"] == 2
    with CALLS.measure() as calls:
        upload = _dry_run(account, operator, "ann,,,ReadOnlyAccess", "bob,,,NoSuchPolicy")
    assert calls.by_operation["ListPolicies"] > 0
    assert _errors(upload) == {3: [("policies", "No managed policy named NoSuchPolicy.")]}


def _peak_memory_of_dry_run(iam: IamGateway, operator, rows: int) -> tuple[UserImport, int]:
    lines = [f"user{i:05d},/,,,,team=x,yes,yes,yes" for i in range(rows)]
    data = io.BytesIO("\n".join([HEADER, *lines]).encode())
    iam.policy_index()  # cached before measuring, as it is for every run but the first
    tracemalloc.start()
    try:
        upload = imports.dry_run(data, file_name="big.csv", operator=operator, gateway=iam)
        return upload, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_five_thousand_rows_are_checked_in_flat_memory(iam, operator) -> None:
    """The file is read as a stream and saved in batches: the peak barely grows with the rows
    (holding 5,000 rows' plans at once would add about 3 MB)."""
    _, small = _peak_memory_of_dry_run(iam, operator, 1000)
    UserImport.objects.all().delete()
    upload, large = _peak_memory_of_dry_run(iam, operator, imports.MAX_ROWS)
    assert (upload.rows_total, upload.rows_invalid) == (imports.MAX_ROWS, 0)
    assert large - small < 1_500_000


# --- Confirmation ----------------------------------------------------------------------------


@pytest.fixture
def queue(monkeypatch) -> None:
    """The job queue answers (memory transport); messages are not consumed. Only the write URL,
    what publishing uses (it falls back to broker_url when unset)."""
    from iamconsole.celery import app

    monkeypatch.setitem(app.conf, "broker_write_url", "memory://")


def test_confirming_starts_one_job_with_a_queued_item_per_row_in_file_order(account, operator, queue, client) -> None:
    upload = _dry_run(account, operator, "pat,,Developers", "quinn,,,,,,yes")
    session = client.session
    job = imports.confirm(upload, operator=operator, session=session)
    assert (job.source, job.operator) == (Job.Source.IMPORT, operator)
    assert [(item.position, item.user_name, item.status) for item in job.items.all()] == [
        (0, "pat", "queued"),
        (1, "quinn", "queued"),
    ]
    assert jobs.is_bound_to_session(session, job)
    upload.refresh_from_db()
    assert upload.job == job and upload.confirmed_at is not None
    # A second confirmation (a double click, another tab) finds the same job.
    again = imports.confirm(UserImport.objects.get(pk=upload.pk), operator=operator, session=session)
    assert again == job and Job.objects.count() == 1


def test_a_dry_run_with_errors_or_too_old_cannot_be_confirmed(account, operator, queue) -> None:
    bad = _dry_run(account, operator, "ok", "not ok")
    with pytest.raises(imports.NotConfirmable, match="Fix the rows with errors"):
        imports.confirm(bad, operator=operator, session=None)
    old = _dry_run(account, operator, "fine")
    too_old = timezone.now() - imports.PLAN_VALID_FOR - timedelta(seconds=1)
    UserImport.objects.filter(pk=old.pk).update(created_at=too_old)
    old.refresh_from_db()
    with pytest.raises(imports.NotConfirmable, match="more than an hour old"):
        imports.confirm(old, operator=operator, session=None)
    assert Job.objects.count() == 0


def test_nothing_is_confirmed_when_the_queue_does_not_answer(account, operator, monkeypatch) -> None:
    from iamconsole.celery import app

    upload = _dry_run(account, operator, "rae")
    monkeypatch.setitem(app.conf, "broker_write_url", "redis://127.0.0.1:1/0")
    with pytest.raises(jobs.JobQueueUnavailable):
        imports.confirm(upload, operator=operator, session=None)
    upload.refresh_from_db()
    assert (upload.job, upload.confirmed_at, Job.objects.count()) == (None, None, 0)


# --- The pages -------------------------------------------------------------------------------


def _upload(client, text: str):
    file = io.BytesIO(text.encode())
    file.name = "team.csv"
    return client.post(reverse("users:import"), {"file": file})


def test_the_plan_page_shows_the_rows_with_errors_the_totals_and_a_sample_cli(account, operator_client) -> None:
    response = _upload(operator_client, f"{HEADER}\nsam,,Developers,,,,yes,,yes\ntia,,Nobody\n")
    assert response.status_code == 302
    page = operator_client.get(response["Location"]).content.decode()
    assert 'data-testid="rows-total">2<' in page and 'data-testid="rows-invalid">1<' in page
    assert "No such group: “Nobody”." in page and "import-confirm" not in page
    assert "aws iam create-user --user-name sam" in page
    assert 'data-line="2"' not in page  # only the rows with errors, until "Show all rows"
    everything = operator_client.get(response["Location"] + "?show=all").content.decode()
    assert 'data-line="2"' in everything and 'data-line="3"' in everything


def test_confirming_on_the_page_goes_to_the_job(account, operator_client, queue) -> None:
    response = _upload(operator_client, f"{HEADER}\numa,,Developers\n")
    page = operator_client.get(response["Location"]).content.decode()
    assert "Create 1 user" in page
    upload = UserImport.objects.get()
    confirmed = operator_client.post(reverse("users:import_confirm", args=[upload.id]))
    job = Job.objects.get()
    assert confirmed["Location"] == reverse("users:job_detail", args=[job.id])
    assert "Import users" in operator_client.get(confirmed["Location"]).content.decode()


def test_a_dry_run_is_its_uploaders_alone(account, operator, operator_client, django_user_model) -> None:
    _upload(operator_client, f"{HEADER}\nvic\n")
    upload = UserImport.objects.get()
    other = django_user_model.objects.create_user("carl", password="x" * 20)
    other.groups.add(Group.objects.get(name=OPERATORS))
    client = Client()
    client.force_login(other)
    assert client.get(reverse("users:import_plan", args=[upload.id])).status_code == 404
    assert client.post(reverse("users:import_confirm", args=[upload.id])).status_code == 404


def test_viewers_cannot_import_and_the_template_passes_its_own_dry_run(
    account, operator, viewer_client, operator_client
) -> None:
    assert viewer_client.get(reverse("users:import")).status_code == 403
    assert viewer_client.post(reverse("users:import"), {}).status_code == 403
    template = operator_client.get(reverse("users:import_template"))
    assert template["Content-Disposition"] == 'attachment; filename="users-import.csv"'
    body = template.content.decode()
    assert body.splitlines()[0] == HEADER
    # The template itself passes the dry run once its groups exist.
    upload = _dry_run(account, operator, *body.splitlines()[1:])
    assert upload.is_valid


def test_a_service_linked_roles_policy_is_refused_before_any_write(account, operator) -> None:
    upload = _dry_run(account, operator, "alice,,,APIGatewayServiceRolePolicy,,,no,,no")
    assert _errors(upload) == {
        2: [
            (
                "policies",
                "APIGatewayServiceRolePolicy is a service-linked role's policy: IAM does not attach it to users.",
            )
        ]
    }
