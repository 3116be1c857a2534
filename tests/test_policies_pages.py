"""The Policies pages: the managed policies list and a policy's details (unit: Django test
client, moto's mock_aws with its ~1,580 AWS managed policies)."""

from __future__ import annotations

import json
import re
from typing import cast
from urllib.parse import quote

import pytest
from django.urls import reverse

from users.iam.counter import CALLS

pytestmark = pytest.mark.django_db

LIST = reverse("users:policies")
DETAIL = reverse("users:policy_detail")
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
DOCUMENT = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}


def _customer_policy(iam, name: str, description: str = "") -> str:
    params = {"Description": description} if description else {}
    policy = iam.clients[0].create_policy(PolicyName=name, PolicyDocument=json.dumps(DOCUMENT), **params)
    return cast(str, policy["Policy"]["Arn"])


def _names(response) -> list[str]:
    return [policy.name for policy in response.context["page"].object_list]


def test_it_lists_the_policies_by_name_with_their_type_and_use(iam, operator_client) -> None:
    arn = _customer_policy(iam, "Deploy", "Lets CI deploy")
    _customer_policy(iam, "Unused")
    iam.create_user("arthur")
    iam.create_group("Developers")
    iam.attach_user_policy("arthur", arn)
    iam.attach_group_policy("Developers", arn)

    response = operator_client.get(LIST, {"type": "Customer managed"})

    assert response.status_code == 200
    html = response.content.decode()
    assert 'Policies <span class="count">(2)</span>' in html
    assert "<th>Policy name</th><th>Type</th><th>Used as</th><th>Description</th>" in html
    assert _names(response) == ["Deploy", "Unused"]
    assert re.search(
        r">Deploy</a></td>\s*<td>Customer managed</td>\s*<td>Permissions policy \(2\)\s*</td>\s*"
        r"<td[^>]*>Lets CI deploy</td>",
        html,
    )
    assert re.search(r">Unused</a></td>\s*<td>Customer managed</td>\s*<td>None\s*</td>", html)
    assert f'href="{DETAIL}?arn={quote(arn, safe="/")}"' in html


def test_it_filters_by_type(iam, operator_client) -> None:
    job_functions = _names(operator_client.get(LIST, {"type": "AWS managed - job function", "per_page": 100}))
    aws_managed = operator_client.get(LIST, {"type": "AWS managed"}).context["page"].object_list

    assert {"AdministratorAccess", "Billing", "DatabaseAdministrator", "ReadOnlyAccess", "ViewOnlyAccess"} <= set(
        job_functions
    )
    assert len(job_functions) < 30
    assert {policy.policy_type for policy in aws_managed} == {"AWS managed"}


def test_it_searches_by_name_case_insensitively_and_counts_the_matches(iam, operator_client) -> None:
    response = operator_client.get(LIST, {"q": "s3readONLYaccess"})
    assert _names(response) == ["AmazonS3ReadOnlyAccess"]
    assert 'Policies <span class="count">(1)</span>' in response.content.decode()
    broad = operator_client.get(LIST, {"q": "ReadOnly"})
    assert broad.context["count"] > 25 and all("readonly" in name.lower() for name in _names(broad))
    assert "No policies match." in operator_client.get(LIST, {"q": "no-such-policy"}).content.decode()


def test_it_paginates_on_the_server(iam, operator_client) -> None:
    first = operator_client.get(LIST, {"per_page": 50})
    second = operator_client.get(LIST, {"per_page": 50, "page": 2})
    everything = sorted((policy.name for policy in iam.policy_index()), key=str.casefold)

    assert len(_names(first)) == 50
    assert _names(first) + _names(second) == everything[:100]
    assert 'href="?q=&amp;type=&amp;per_page=50&amp;page=2"' in first.content.decode()


@pytest.mark.parametrize("bad", [{"per_page": "1000"}, {"page": "x"}, {"type": "Nonsense"}, {"q": "x" * 500}])
def test_it_never_fails_on_odd_query_strings(iam, operator_client, bad) -> None:
    response = operator_client.get(LIST, bad)
    assert response.status_code == 200
    assert len(_names(response)) == 25  # the defaults: all policies, 25 a page


def test_it_reads_the_policies_once_until_refresh(iam, operator_client) -> None:
    operator_client.get(LIST)
    with CALLS.measure() as cached:
        operator_client.get(LIST, {"page": 1})
    with CALLS.measure() as refreshed:
        operator_client.get(LIST, {"refresh": "1"})
    assert cached.total == 0
    assert refreshed.by_operation["ListPolicies"] >= 1 and refreshed.by_operation["GetPolicy"] == 0


def test_it_reads_the_descriptions_of_the_rows_shown_once(iam, operator_client) -> None:
    """ListPolicies gives no descriptions (in IAM as in moto): one GetPolicy per row shown, then
    none, as IAM never changes a description."""
    for i in range(3):
        _customer_policy(iam, f"Team{i}", f"What team {i} does")
    operator_client.get(reverse("users:account_settings"))  # warms the cached account info
    operator_client.get(LIST, {"q": "nothing-matches"})  # warms the policy index
    with CALLS.measure() as first:
        response = operator_client.get(LIST, {"type": "Customer managed"})
    with CALLS.measure() as again:
        operator_client.get(LIST, {"type": "Customer managed"})
    with CALLS.measure() as aws_page:
        operator_client.get(LIST, {"per_page": 100})

    assert [(policy.name, text) for policy, text in response.context["rows"]] == [
        ("Team0", "What team 0 does"),
        ("Team1", "What team 1 does"),
        ("Team2", "What team 2 does"),
    ]
    assert "What team 1 does" in response.content.decode()
    assert dict(first.by_operation) == {"GetPolicy": 3}
    assert again.total == 0
    assert aws_page.total == aws_page.by_operation["GetPolicy"] <= 100


def test_it_shows_a_policy_with_its_document_and_entities(iam, operator_client) -> None:
    arn = _customer_policy(iam, "Deploy", "Lets CI deploy")
    iam.create_user("arthur")
    iam.create_group("Developers")
    iam.attach_user_policy("arthur", arn)
    iam.attach_group_policy("Developers", arn)
    operator_client.get(reverse("users:account_settings"))  # warms the cached account info

    with CALLS.measure() as calls:
        response = operator_client.get(DETAIL, {"arn": arn})

    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-testid="arn">{arn}<' in html
    assert 'data-testid="policy-type">Customer managed<' in html
    assert "Lets CI deploy" in html and "Permissions policy (2)" in html
    assert response.context["document"] == json.dumps(DOCUMENT, indent=2)
    assert response.context["entities"] == [("arthur", "User"), ("Developers", "Group")]
    assert f'href="{reverse("users:detail", args=["arthur"])}"' in html
    assert f'href="{reverse("users:group_detail", args=["Developers"])}"' in html
    assert dict(calls.by_operation) == {"GetPolicy": 1, "GetPolicyVersion": 1, "ListEntitiesForPolicy": 1}


def test_an_aws_managed_policy_shows_its_document(iam, operator_client) -> None:
    response = operator_client.get(DETAIL, {"arn": READ_ONLY})
    assert response.status_code == 200
    assert 'data-testid="policy-type">AWS managed - job function<' in response.content.decode()
    assert '"Statement": [' in response.context["document"]
    assert "This policy is not attached to any user, group or role." in response.content.decode()


@pytest.mark.parametrize(
    "arn",
    [
        "",
        "not-an-arn",
        "arn:aws:iam::123:policy/x",
        "arn:aws:iam::123456789012:user/arthur",
        "arn:aws:iam::aws:policy/a b",
    ],
)
def test_a_bad_arn_is_a_bad_request(iam, operator_client, arn) -> None:
    with CALLS.measure() as calls:
        response = operator_client.get(DETAIL, {"arn": arn})
    assert response.status_code == 400
    assert calls.by_operation["GetPolicy"] == 0


def test_an_unknown_policy_is_not_found(iam, operator_client) -> None:
    for arn in ("arn:aws:iam::aws:policy/NoSuchPolicy", "arn:aws:iam::123456789012:policy/team/Gone"):
        assert operator_client.get(DETAIL, {"arn": arn}).status_code == 404


def test_a_viewer_reads_the_policies_pages(iam, viewer_client) -> None:
    assert viewer_client.get(LIST).status_code == 200
    assert viewer_client.get(DETAIL, {"arn": READ_ONLY}).status_code == 200


def test_the_navigation_marks_policies_active(iam, operator_client) -> None:
    html = operator_client.get(DETAIL, {"arn": READ_ONLY}).content.decode()
    assert f'<a class="nav-link active" href="{LIST}">Policies</a>' in html
