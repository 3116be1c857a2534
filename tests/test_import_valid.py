"""Import what is valid, the file of the rows with errors, and Export users (users/imports.py,
users/views/imports.py, users/iam/user_export.py), on moto's in-process IAM.

A dry run with rows with errors may start the job of its valid rows only; the others are
skipped, counted and audited, and downloadable in the import format with their errors, to fix
and upload again. Export users writes the list's users (its search) in the same format, without
credentials, so that a file goes from one account to another.
"""

from __future__ import annotations

import csv
import io
import json

import boto3
import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.iam.models import iam_backends

from users import imports
from users.iam.gateway import IamGateway
from users.models import AuditEvent, ImportRow, Job, UserImport
from users.provisioning import UserPlan
from users.roles import OPERATORS

HEADER = ",".join(imports.COLUMNS)
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
GOOD = ("ann,,Developers", "ben,/eng/,,,,team=web", "cy,,,,,,yes")
BAD = ("bad name!,,Developers", "dee,,Nobody,,,,maybe")


def _csv(*rows: str, header: str = HEADER) -> io.BytesIO:
    return io.BytesIO("\n".join([header, *rows]).encode())


def _dry_run(iam: IamGateway, operator, *rows: str, header: str = HEADER) -> UserImport:
    return imports.dry_run(_csv(*rows, header=header), file_name="team.csv", operator=operator, gateway=iam)


def _table(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _create_policy(name: str) -> str:
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    client = boto3.client("iam", region_name="us-east-1")
    return client.create_policy(PolicyName=name, PolicyDocument=json.dumps(document))["Policy"]["Arn"]


@pytest.fixture
def account(iam: IamGateway) -> IamGateway:
    iam.create_group("Developers")
    iam.create_group("Ops")
    return iam


@pytest.fixture
def queue(monkeypatch) -> None:
    """The job queue answers (memory transport); messages are not consumed."""
    from iamconsole.celery import app

    monkeypatch.setitem(app.conf, "broker_write_url", "memory://")


# --- Create the N valid users ----------------------------------------------------------------


def test_it_starts_a_job_of_the_valid_rows_only_and_counts_and_audits_the_skipped(account, operator, queue) -> None:
    upload = _dry_run(account, operator, GOOD[0], BAD[0], GOOD[1], BAD[1], GOOD[2])
    assert (upload.rows_total, upload.rows_invalid, imports.can_create_valid_rows(upload)) == (5, 2, True)
    job = imports.confirm(upload, operator=operator, session=None, valid_only=True)
    assert [item.user_name for item in job.items.all()] == ["ann", "ben", "cy"]
    upload.refresh_from_db()
    assert (upload.job, upload.rows_skipped) == (job, 2)
    event = AuditEvent.objects.get(action="SkipImportRows")
    assert event.target == f"import {upload.id}" and event.operator_name == "alice"
    assert event.parameters == {
        "file_name": "team.csv",
        "job_id": str(job.id),
        "created": 3,
        "skipped": 2,
        "skipped_lines": [3, 5],
    }
    assert account.list_users() == []  # the job creates them, on a worker


def test_a_file_with_errors_needs_the_valid_only_choice_and_a_valid_row(account, operator, queue) -> None:
    mixed = _dry_run(account, operator, GOOD[0], BAD[0])
    with pytest.raises(imports.NotConfirmable, match="Fix the rows with errors"):
        imports.confirm(mixed, operator=operator, session=None)
    all_bad = _dry_run(account, operator, *BAD)
    assert not imports.can_create_valid_rows(all_bad)
    with pytest.raises(imports.NotConfirmable):
        imports.confirm(all_bad, operator=operator, session=None, valid_only=True)
    assert Job.objects.count() == 0 and not AuditEvent.objects.filter(action="SkipImportRows").exists()


def test_the_account_quota_still_stops_a_valid_only_confirmation(account, operator, queue, monkeypatch) -> None:
    monkeypatch.setattr(imports, "MAX_USERS_PER_ACCOUNT", 1)
    upload = _dry_run(account, operator, GOOD[0], GOOD[1], BAD[0])
    assert upload.errors and not imports.can_create_valid_rows(upload)
    with pytest.raises(imports.NotConfirmable):
        imports.confirm(upload, operator=operator, session=None, valid_only=True)
    assert Job.objects.count() == 0


def test_a_name_taken_since_the_dry_run_stops_it_and_the_next_offer_counts_one_less(account, operator, queue) -> None:
    upload = _dry_run(account, operator, *GOOD, BAD[0])
    account.create_user("BEN")  # taken meanwhile, another case
    with pytest.raises(imports.NotConfirmable, match="IAM changed since the dry run"):
        imports.confirm(upload, operator=operator, session=None, valid_only=True)
    upload.refresh_from_db()
    assert (upload.rows_invalid, upload.confirmed_at, Job.objects.count()) == (2, None, 0)
    job = imports.confirm(upload, operator=operator, session=None, valid_only=True)
    assert [item.user_name for item in job.items.all()] == ["ann", "cy"]
    assert UserImport.objects.get(pk=upload.pk).rows_skipped == 2


# --- The rows with errors, as a file ------------------------------------------------------------


def test_the_bad_rows_file_has_the_import_columns_the_cells_as_given_and_their_errors(account, operator) -> None:
    upload = _dry_run(
        account,
        operator,
        "ann,Developers",
        "dee, Nobody ,,,,a=1;b=2,maybe",
        '"=HYPERLINK(""http://x"")",Ops',
        header="user_name,groups,path,policies,permissions_boundary,tags,console_access",
    )
    table = _table("".join(imports.bad_rows_csv(upload)))
    assert table[0] == [*imports.COLUMNS, "errors"]
    rows = [dict(zip(table[0], row, strict=True)) for row in table[1:]]
    assert [row["user_name"] for row in rows] == ["dee", '\'=HYPERLINK("http://x")']  # formula-escaped
    assert (rows[0]["groups"], rows[0]["tags"], rows[0]["console_access"], rows[0]["path"]) == (
        " Nobody ",
        "a=1;b=2",
        "maybe",
        "",
    )
    assert rows[0]["errors"] == "groups: No such group: “Nobody”.; console_access: Enter yes or no, not “maybe”."
    assert rows[1]["groups"] == "Ops" and rows[1]["errors"].startswith("user_name: Starts with “=”")


def test_the_bad_rows_file_fixed_is_a_valid_import_and_its_errors_column_is_ignored(account, operator) -> None:
    upload = _dry_run(account, operator, GOOD[0], "'-dash-,,Nobody", BAD[1])
    text = "".join(imports.bad_rows_csv(upload))
    fixed = text.replace("Nobody", "Ops").replace("maybe", "yes")
    again = imports.dry_run(io.BytesIO(fixed.encode()), file_name="fixed.csv", operator=operator, gateway=account)
    assert (again.rows_total, again.rows_invalid) == (2, 0)
    plans = [UserPlan.from_json(row.plan) for row in again.rows.all() if row.plan]
    # `'-dash-` is the escaped text -dash-: read back without its `'`.
    assert [(plan.user_name, plan.groups, plan.console_access) for plan in plans] == [
        ("-dash-", ("Ops",), False),
        ("dee", ("Ops",), True),
    ]


def test_no_secret_is_kept_a_password_column_is_refused_and_rows_keep_only_import_columns(account, operator) -> None:
    with pytest.raises(imports.ImportFileError, match="password column"):
        _dry_run(account, operator, "eve,Secret-123", header="user_name,password")
    assert not UserImport.objects.exists() and not ImportRow.objects.exists()
    upload = _dry_run(account, operator, "eve,Nobody,,,yes", header="user_name,groups,errors,tags,console_access")
    row = upload.rows.get()
    assert row.values == {"user_name": "eve", "groups": "Nobody", "console_access": "yes"}
    assert set(row.values) <= set(imports.COLUMNS)


# --- The pages: the offer, the confirmation, the download --------------------------------------


def _upload(client: Client, *rows: str):
    file = io.BytesIO("\n".join([HEADER, *rows]).encode())
    file.name = "team.csv"
    return client.post(reverse("users:import"), {"file": file})


def test_the_dry_run_page_offers_the_valid_users_and_the_job_page_tells_of_the_skipped(
    account, operator_client, queue
) -> None:
    plan_url = _upload(operator_client, *GOOD, *BAD)["Location"]
    page = operator_client.get(plan_url).content.decode()
    assert "Create the 3 valid users" in page and 'name="rows" value="valid"' in page
    assert "The 2 rows with errors are skipped" in page
    upload = UserImport.objects.get()
    assert reverse("users:import_bad_rows", args=[upload.id]) in page
    confirmed = operator_client.post(reverse("users:import_confirm", args=[upload.id]), {"rows": "valid"})
    job = Job.objects.get()
    assert confirmed["Location"] == reverse("users:job_detail", args=[job.id]) and job.items.count() == 3
    job_page = operator_client.get(confirmed["Location"]).content.decode()
    assert "2 rows with errors of team.csv were skipped" in job_page
    assert reverse("users:import_bad_rows", args=[upload.id]) in job_page
    assert "without its 2 rows with errors, which were skipped" in operator_client.get(plan_url).content.decode()


def test_the_plain_confirmation_of_a_file_with_errors_still_creates_nothing(account, operator_client, queue) -> None:
    _upload(operator_client, GOOD[0], BAD[0])
    upload = UserImport.objects.get()
    response = operator_client.post(reverse("users:import_confirm", args=[upload.id]))
    assert response["Location"] == reverse("users:import_plan", args=[upload.id])
    assert Job.objects.count() == 0


def test_the_bad_rows_file_is_its_uploaders_alone(account, operator_client, viewer_client) -> None:
    _upload(operator_client, GOOD[0], BAD[1])
    upload = UserImport.objects.get()
    url = reverse("users:import_bad_rows", args=[upload.id])
    response = operator_client.get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="team-errors.csv"'
    assert response["Content-Type"] == "text/csv; charset=utf-8" and response["X-Content-Type-Options"] == "nosniff"
    table = _table(b"".join(response.streaming_content).decode())
    assert [row[0] for row in table] == ["user_name", "dee"]
    carl = Group.objects.get(name=OPERATORS).user_set.create(username="carl")
    other = Client()
    other.force_login(carl)
    assert other.get(url).status_code == 404
    assert viewer_client.get(url).status_code == 403


# --- Export users --------------------------------------------------------------------------------


@pytest.fixture
def team(account: IamGateway) -> IamGateway:
    """Users with what an import file can say: path, groups, AWS and customer policies, a
    boundary and tags; and what it never carries: a password and an access key."""
    boundary = _create_policy("TeamBoundary")
    audit_policy = _create_policy("AuditRead")
    account.create_user("dev-ann", path="/eng/", tags={"team": "web", "iamconsole:created-by": "job/x/0"})
    account.create_user("dev-bob", permissions_boundary=boundary)
    account.create_user("=ops")
    account.create_user("zed", tags={"cost=center": "a=1", "=owner": "ops"})  # `=` in keys and a value
    account.add_user_to_group("Developers", "dev-ann")
    account.add_user_to_group("Ops", "dev-ann")
    account.attach_user_policy("dev-ann", READ_ONLY)
    account.attach_user_policy("dev-ann", audit_policy)
    account.create_login_profile("dev-ann", "Pa55word-is-secret!", reset_required=False)
    account.create_access_key("dev-ann")
    return account


def _export(client: Client, **params: str) -> list[dict[str, str]]:
    response = client.get(reverse("users:export"), params)
    assert response.status_code == 200
    table = _table(response.content.decode())
    assert table[0] == list(imports.COLUMNS)
    return [dict(zip(table[0], row, strict=True)) for row in table[1:]]


def test_export_writes_the_lists_search_in_the_import_format_without_credentials(
    team, operator_client, operator
) -> None:
    response = operator_client.get(reverse("users:export"), {"q": "DEV"})
    assert response["Content-Disposition"] == 'attachment; filename="users-123456789012.csv"'
    table = _table(response.content.decode())
    assert [dict(zip(table[0], row, strict=True)) for row in table[1:]] == [
        {
            "user_name": "dev-ann",
            "path": "/eng/",
            "groups": "Developers;Ops",
            "policies": f"{READ_ONLY};AuditRead",
            "permissions_boundary": "",
            "tags": "team=web",  # not the console's own iamconsole: tag
            "console_access": "",
            "password_reset_required": "",
            "programmatic_access": "",
        },
        {
            "user_name": "dev-bob",
            "path": "/",
            "groups": "",
            "policies": "",
            "permissions_boundary": "TeamBoundary",
            "tags": "",
            "console_access": "",
            "password_reset_required": "",
            "programmatic_access": "",
        },
    ]
    text = response.content.decode()
    key_id = team.list_access_keys("dev-ann")[0].access_key_id
    assert key_id not in text and "Pa55word" not in text and "password," not in text.splitlines()[0]
    event = AuditEvent.objects.get(action="ExportUsers")
    assert event.parameters == {"query": "DEV", "users": 2} and event.operator_name == operator.username


def test_export_without_a_search_has_every_user_formula_cells_escaped_and_viewers_may_export(
    team, viewer_client
) -> None:
    rows = _export(viewer_client)
    assert [row["user_name"] for row in rows] == ["'=ops", "dev-ann", "dev-bob", "zed"]
    key_id = team.list_access_keys("dev-ann")[0].access_key_id
    assert [row["user_name"] for row in _export(viewer_client, q=key_id)] == ["dev-ann"]


def test_an_exported_file_imports_into_a_fresh_account_as_the_same_users(team, operator_client, operator) -> None:
    exported = operator_client.get(reverse("users:export")).content
    before = {user.name: user for user in team.exported_users()}
    # A fresh account: the same groups and customer policies, no users.
    iam_backends[DEFAULT_ACCOUNT_ID]["aws"].reset()
    team.create_group("Developers")
    team.create_group("Ops")
    boundary, audit_policy = _create_policy("TeamBoundary"), _create_policy("AuditRead")
    upload = imports.dry_run(io.BytesIO(exported), file_name="users.csv", operator=operator, gateway=team)
    assert (upload.rows_total, upload.rows_invalid, upload.errors) == (4, 0, [])
    plans = {plan.user_name: plan for plan in (UserPlan.from_json(row.plan) for row in upload.rows.all() if row.plan)}
    assert sorted(plans) == sorted(before)
    ann = plans["dev-ann"]
    assert (ann.path, ann.groups, ann.policy_arns, ann.tags) == (
        "/eng/",
        ("Developers", "Ops"),
        (READ_ONLY, audit_policy),
        (("team", "web"),),
    )
    assert (ann.console_access, ann.programmatic_access) == (False, False)
    assert plans["dev-bob"].permissions_boundary == boundary
    assert plans["=ops"].path == "/"
    assert sorted(plans["zed"].tags) == [("=owner", "ops"), ("cost=center", "a=1")]


def test_a_search_too_long_to_be_one_is_refused(iam, operator_client) -> None:
    response = operator_client.get(reverse("users:export"), {"q": "x" * 200})
    assert response.status_code == 400 and not AuditEvent.objects.filter(action="ExportUsers").exists()


def test_the_users_list_links_export_with_its_search(team, operator_client) -> None:
    page = operator_client.get(reverse("users:list"), {"q": "dev"}).content.decode()
    assert f'href="{reverse("users:export")}?q=dev"' in page


def test_read_only_refuses_creating_the_valid_users_but_still_exports(
    account, operator, operator_client, settings
) -> None:
    upload = _dry_run(account, operator, GOOD[0], BAD[0])
    settings.IAM_READ_ONLY = True
    response = operator_client.post(reverse("users:import_confirm", args=[upload.id]), {"rows": "valid"})
    assert response.status_code == 403 and Job.objects.count() == 0
    assert operator_client.get(reverse("users:import_bad_rows", args=[upload.id])).status_code == 403
    assert operator_client.get(reverse("users:export")).status_code == 200
