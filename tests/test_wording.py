"""The AWS console's wording (FEATURES.md): "Now" and "Today" rather than "0 minutes ago",
"None" rather than "Not used", a boundary's policy name rather than its ARN on the wizard's
Review (users/templatetags/wording.py and the pages that use it). IAM: moto's mock_aws."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.test_wizard import READ_ONLY, details, step, tags
from users.templatetags.wording import ago, days_ago, policy_name

pytestmark = pytest.mark.django_db

DOCUMENT = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}


def test_ages_say_now_and_today() -> None:
    now = timezone.now()
    assert ago(now - timedelta(seconds=30)) == "Now"
    assert ago(now - timedelta(hours=7, minutes=3)) == "7\xa0hours ago"  # timesince keeps number and unit together
    assert ago(now - timedelta(days=3, hours=2)) == "3\xa0days ago"
    assert days_ago(now) == "today"
    assert days_ago(now - timedelta(days=1)) == "yesterday"
    assert days_ago(now - timedelta(days=12)) == "12 days ago"
    assert policy_name("arn:aws:iam::aws:policy/job-function/DatabaseAdministrator") == "DatabaseAdministrator"


def test_a_new_access_key_is_created_today_on_the_summary(iam, operator_client) -> None:
    iam.create_user("arthur")
    iam.create_access_key("arthur")
    html = operator_client.get(reverse("users:detail", args=["arthur"])).content.decode()
    assert "Never used. Created today." in html
    assert "0 minutes" not in html


def test_a_new_password_and_key_say_now_on_the_security_tab(iam, operator_client) -> None:
    iam.create_user("arthur")
    iam.create_login_profile("arthur", "Initial-Passw0rd!x", reset_required=False)
    iam.create_access_key("arthur")
    url = reverse("users:detail", args=["arthur"]) + "?section=security_credentials"
    html = operator_client.get(url).content.decode()
    assert 'data-testid="console-password">Enabled · set now<' in html
    assert re.search(r'<td><span title="[^"]+">Now</span></td>', html)
    assert "0 minutes" not in html


def test_a_new_group_and_its_member_say_now(iam, operator_client) -> None:
    iam.create_group("Developers")
    iam.create_user("arthur")
    iam.add_user_to_group("Developers", "arthur")
    for url in (reverse("users:groups"), reverse("users:group_detail", args=["Developers"])):
        html = operator_client.get(url).content.decode()
        assert re.search(r'<span title="[^"]+">Now</span>', html), url
        assert "0 minutes" not in html, url


def test_an_unused_policy_is_used_as_none(iam, operator_client) -> None:
    arn = iam.clients[0].create_policy(PolicyName="Unused", PolicyDocument=json.dumps(DOCUMENT))["Policy"]["Arn"]
    listing = operator_client.get(reverse("users:policies"), {"type": "Customer managed"}).content.decode()
    assert re.search(r">Unused</a></td>\s*<td>Customer managed</td>\s*<td>None\s*</td>", listing)
    detail = operator_client.get(reverse("users:policy_detail"), {"arn": arn}).content.decode()
    assert re.search(r"<dt>Used as</dt><dd>None\s*</dd>", detail) and "Not used" not in detail


def test_the_review_names_the_permissions_boundary(iam, operator_client) -> None:
    details(operator_client)
    step(
        operator_client,
        "permissions",
        {"option": "attach", "policies": [], "boundary": "policy", "boundary_policy": READ_ONLY},
    )
    html = tags(operator_client).content.decode()
    boundary = re.search(r'<span title="([^"]+)" data-testid="review-boundary">([^<]+)</span>', html)
    assert boundary is not None, html
    assert boundary.groups() == (READ_ONLY, "ReadOnlyAccess")
    review = html.split('data-testid="review-details"')[1].split("</dl>")[0]
    assert f'<dd class="col-sm-9">{READ_ONLY}' not in review
