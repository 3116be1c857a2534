"""The user details page's Last Accessed tab (FEATURES.md §4G), and the embedded backend's
service last accessed data it reads (users/iam/embedded/access_advisor.py). Unit: Django test
client, moto's mock_aws with the embedded extensions installed (tests/conftest.py)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError
from django.test import Client
from django.urls import reverse
from moto.core.responses import ActionResult
from moto.iam.responses import IamResponse

from users.iam import access_advisor
from users.iam.counter import CALLS
from users.iam.embedded.access_advisor import SERVICES, allowed_namespaces
from users.views.details import last_accessed_label

pytestmark = pytest.mark.django_db

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
NOT_ACCESSED = "Not accessed in the tracking period"


def _document(*statements: dict[str, object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _allow(action: object) -> dict[str, object]:
    return {"Effect": "Allow", "Action": action, "Resource": "*"}


def _raw(iam):
    return iam.clients[0]


def _tab(client: Client, name: str, **params: str) -> str:
    response = client.get(reverse("users:detail", args=[name]), {"section": "last_accessed", **params})
    assert response.status_code == 200
    return response.content.decode()


def _rows(html: str) -> list[list[str]]:
    match = re.search(r'data-testid="last-accessed-table".*?<tbody>(.*?)</tbody>', html, re.S)
    assert match is not None, html
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", match.group(1), re.S)
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in rows]
    return [[" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in row] for row in cells]


def _user_with_policies(iam) -> None:
    """arthur: a customer managed policy (S3, DynamoDB), an inline one (SQS, S3), and through
    the group devs a managed one (Lambda) and an inline one (a service outside the fixed list)."""
    raw = _raw(iam)
    iam.create_user("arthur")
    data = raw.create_policy(
        PolicyName="data-access", PolicyDocument=_document(_allow(["s3:GetObject", "dynamodb:*"]))
    )["Policy"]["Arn"]
    iam.attach_user_policy("arthur", data)
    iam.put_user_policy("arthur", "queues", _document(_allow("sqs:SendMessage"), _allow("S3:PutObject")))
    functions = raw.create_policy(PolicyName="functions", PolicyDocument=_document(_allow("lambda:Invoke*")))
    iam.create_group("devs")
    iam.attach_group_policy("devs", functions["Policy"]["Arn"])
    raw.put_group_policy(GroupName="devs", PolicyName="builds", PolicyDocument=_document(_allow("codebuild:Start*")))
    iam.add_user_to_group("devs", "arthur")


# --- The tab ---------------------------------------------------------------------------------


def test_it_lists_the_services_the_user_s_policies_allow(iam, operator_client) -> None:
    _user_with_policies(iam)
    html = _tab(operator_client, "arthur")

    assert "Allowed services (5)" in html
    assert _rows(html) == [
        ["Amazon DynamoDB", "data-access", NOT_ACCESSED],
        ["Amazon S3", "data-access, queues", NOT_ACCESSED],
        ["Amazon SQS", "queues", NOT_ACCESSED],
        ["AWS Lambda", "functions", NOT_ACCESSED],
        ["codebuild", "builds", NOT_ACCESSED],
    ]
    assert 'data-testid="tab-last_accessed"' in html and ">Last Accessed<" in html


def test_a_wildcard_allows_the_fixed_list_of_services(iam, operator_client) -> None:
    iam.create_user("root-like")
    iam.attach_user_policy("root-like", ADMIN)
    rows = _rows(_tab(operator_client, "root-like"))
    assert sorted(row[0] for row in rows) == sorted(SERVICES.values())
    assert {row[1] for row in rows} == {"AdministratorAccess"}


@pytest.mark.parametrize(
    "chosen, expected",
    [("", 5), ("not_accessed", 5), ("accessed", 0), ("bogus", 5)],
)
def test_it_filters_accessed_and_not_accessed_services(iam, operator_client, chosen, expected) -> None:
    _user_with_policies(iam)
    html = _tab(operator_client, "arthur", filter=chosen)
    rows = _rows(html)
    if expected:
        assert len(rows) == expected
    else:
        assert rows == [["No services match the filter."]]
    selected = re.search(r'<option value="([a-z_]*)" selected>', html)
    assert selected is not None and selected.group(1) == ("" if chosen == "bogus" else chosen)


def test_a_user_without_policies_gets_an_empty_state(iam, operator_client) -> None:
    iam.create_user("newcomer")
    html = _tab(operator_client, "newcomer")
    assert 'data-testid="last-accessed-empty"' in html
    assert "This user has no permissions policies that allow access to AWS services." in html
    assert 'data-testid="last-accessed-table"' not in html


def test_a_report_iam_has_not_finished_asks_for_a_reload(iam, operator_client, monkeypatch) -> None:
    _user_with_policies(iam)
    monkeypatch.setattr(access_advisor, "JOB_POLL_SECONDS", 0)
    in_progress = {"JobStatus": "IN_PROGRESS", "JobType": "SERVICE_LEVEL", "JobCreationDate": datetime.now(UTC)}
    monkeypatch.setattr(
        IamResponse,
        "get_service_last_accessed_details",
        lambda self: ActionResult({**in_progress, "ServicesLastAccessed": []}),
        raising=False,
    )
    with CALLS.measure() as calls:
        html = _tab(operator_client, "arthur", filter="accessed")
    assert 'data-testid="last-accessed-pending"' in html
    assert 'href="?section=last_accessed&amp;filter=accessed">Reload</a>' in html
    assert calls.by_operation["GetServiceLastAccessedDetails"] == access_advisor.JOB_POLLS


def test_a_viewer_reads_the_tab(iam, viewer_client) -> None:
    _user_with_policies(iam)
    assert len(_rows(_tab(viewer_client, "arthur"))) == 5


def test_the_tab_costs_at_most_12_calls(iam, operator_client) -> None:
    _user_with_policies(iam)
    iam.create_access_key("arthur")
    iam.create_access_key("arthur")
    with CALLS.measure() as calls:
        _tab(operator_client, "arthur")  # account info cold
    assert calls.total <= 12, calls.by_operation
    assert calls.by_operation["GenerateServiceLastAccessedDetails"] == 1
    assert calls.by_operation["ListPoliciesGrantingServiceAccess"] == 1


@pytest.mark.parametrize(
    "days, label",
    [(None, NOT_ACCESSED), (0, "Today"), (1, "1 day ago"), (12, "12 days ago"), (400, "400 days ago")],
)
def test_last_accessed_reads_as_the_console_says_it(days, label) -> None:
    now = datetime(2026, 12, 5, 12, tzinfo=UTC)
    when = None if days is None else now - timedelta(days=days, hours=3)
    assert last_accessed_label(when, now) == label


# --- The embedded backend --------------------------------------------------------------------


def test_the_embedded_job_is_completed_with_no_access_recorded(iam) -> None:
    _user_with_policies(iam)
    raw = _raw(iam)
    arn = iam.get_user("arthur").arn
    job_id = raw.generate_service_last_accessed_details(Arn=arn)["JobId"]
    assert len(job_id) == 36

    first = raw.get_service_last_accessed_details(JobId=job_id, MaxItems=3)
    rest = raw.get_service_last_accessed_details(JobId=job_id, Marker=first["Marker"])

    assert (first["JobStatus"], first["JobType"], first["IsTruncated"], rest["IsTruncated"]) == (
        "COMPLETED",
        "SERVICE_LEVEL",
        True,
        False,
    )
    services = first["ServicesLastAccessed"] + rest["ServicesLastAccessed"]
    assert [s["ServiceNamespace"] for s in services] == ["codebuild", "dynamodb", "lambda", "s3", "sqs"]
    assert all("LastAuthenticated" not in s and s["TotalAuthenticatedEntities"] == 0 for s in services)


def test_the_embedded_backend_names_the_policies_granting_each_service(iam) -> None:
    _user_with_policies(iam)
    arn = iam.get_user("arthur").arn
    answer = _raw(iam).list_policies_granting_service_access(Arn=arn, ServiceNamespaces=["s3", "codebuild", "ec2"])
    granting = {item["ServiceNamespace"]: item["Policies"] for item in answer["PoliciesGrantingServiceAccess"]}
    assert granting["ec2"] == []
    assert [(p["PolicyName"], p["PolicyType"], "PolicyArn" in p) for p in granting["s3"]] == [
        ("data-access", "MANAGED", True),
        ("queues", "INLINE", False),
    ]
    assert (granting["s3"][1]["EntityType"], granting["s3"][1]["EntityName"]) == ("USER", "arthur")
    assert granting["codebuild"] == [
        {"PolicyName": "builds", "PolicyType": "INLINE", "EntityType": "GROUP", "EntityName": "devs"}
    ]


def test_a_group_s_services_are_its_own_policies(iam) -> None:
    _user_with_policies(iam)
    group_arn = iam.get_group("devs")[0].arn
    report = iam.service_last_accessed(group_arn)
    assert [(s.namespace, s.policies) for s in report.services] == [
        ("lambda", ("functions",)),
        ("codebuild", ("builds",)),
    ]


@pytest.mark.parametrize(
    "operation, params, code",
    [
        ("get_service_last_accessed_details", {"JobId": "0" * 36}, "NoSuchEntity"),
        (
            "generate_service_last_accessed_details",
            {"Arn": "arn:aws:iam::123456789012:user/nobody"},
            "NoSuchEntity",
        ),
        ("generate_service_last_accessed_details", {"Arn": "arn:aws:iam::123456789012:role/r"}, "InvalidInput"),
    ],
)
def test_the_embedded_backend_refuses_what_iam_refuses(iam, operation, params, code) -> None:
    with pytest.raises(ClientError) as raised:
        getattr(_raw(iam), operation)(**params)
    assert raised.value.response["Error"]["Code"] == code


@pytest.mark.parametrize(
    "statements, expected",
    [
        ([_allow("*")], set(SERVICES)),
        ([_allow("s3*:Get*")], {"s3"}),
        ([_allow(["EC2:Describe*", "iam:GetUser"])], {"ec2", "iam"}),
        ([{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}], set()),
        ([{"Effect": "Allow", "NotAction": ["iam:*", "sts:*"], "Resource": "*"}], set(SERVICES) - {"iam", "sts"}),
        ([{"Effect": "Allow", "NotAction": "*", "Resource": "*"}], set()),
        ([{"Effect": "Allow", "NotAction": "s3:GetObject", "Resource": "*"}], set(SERVICES)),
    ],
)
def test_it_reads_the_allowed_services_from_the_statements(statements, expected) -> None:
    assert allowed_namespaces(_document(*statements)) == expected


def test_a_document_that_is_not_json_allows_nothing() -> None:
    assert allowed_namespaces("not json") == set()
    assert allowed_namespaces("[1, 2]") == set()
