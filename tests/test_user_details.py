"""The user details page: Summary and its tabs (unit: Django test client, moto's mock_aws)."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest
from django.test import Client
from django.urls import reverse

from tests.test_deletion import INLINE, _certificate, _raw, _ssh_key
from users.iam.counter import CALLS

pytestmark = pytest.mark.django_db

READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
DATABASE_ADMIN = "arn:aws:iam::aws:policy/job-function/DatabaseAdministrator"


def _page(client: Client, name: str, **params: str) -> str:
    response = client.get(reverse("users:detail", args=[name]), params)
    assert response.status_code == 200
    return response.content.decode()


def _rows(html: str, testid: str) -> list[list[str]]:
    """The text of each cell, row by row, of the table with this data-testid."""
    match = re.search(rf'data-testid="{testid}".*?<tbody>(.*?)</tbody>', html, re.S)
    assert match is not None
    table = match.group(1)
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in rows]
    return [[" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in row] for row in cells]


@pytest.mark.parametrize("name", ["arthur", "a+b@c.d=,e-", "=cmd", "Name_With.Dots", "create", "actions"])
def test_it_links_each_user_to_its_details_even_with_odd_names(iam, operator_client, name) -> None:
    iam.create_user(name)
    list_html = operator_client.get(reverse("users:list")).content.decode()
    url = reverse("users:detail", args=[name])
    assert f'href="{url}"' in list_html
    assert f"arn:aws:iam::123456789012:user/{name}" in _page(operator_client, name)


@pytest.mark.parametrize("name", ["nobody", "a" * 65, "bad name!", "é"])
def test_it_answers_404_for_an_unknown_or_impossible_user(iam, operator_client, name) -> None:
    with CALLS.measure() as calls:
        assert operator_client.get(reverse("users:detail", args=[name])).status_code == 404
    assert calls.by_operation.get("GetUser", 0) == (1 if name == "nobody" else 0)


# --- Summary ---------------------------------------------------------------------------------


def test_the_summary_says_disabled_without_a_password(iam, operator_client) -> None:
    iam.create_user("arthur")
    html = _page(operator_client, "arthur")
    assert re.search(r'data-testid="console-access">\s*Disabled', html)
    assert re.search(r'data-testid="last-sign-in">\s*None', html)
    assert 'Access key 1</dt>\n        <dd class="text-body-secondary">Not enabled' in html


def test_the_summary_warns_of_console_access_without_mfa(iam, operator_client) -> None:
    iam.create_user("arthur")
    iam.create_login_profile("arthur", "Initial-Passw0rd!", reset_required=True)
    key = iam.create_access_key("arthur")
    html = _page(operator_client, "arthur")
    assert re.search(
        r'data-testid="console-access"><span class="text-warning-emphasis">⚠</span> Enabled without MFA', html
    )
    assert re.search(r'data-testid="last-sign-in">\s*Never', html)
    assert re.search(rf'data-testid="access-key-1">{key.access_key_id} - Active<br>\s*<span[^>]*>Never used\.', html)


def test_the_summary_says_enabled_with_an_mfa_device(iam, operator_client) -> None:
    iam.create_user("arthur")
    iam.create_login_profile("arthur", "Initial-Passw0rd!", reset_required=False)
    raw = _raw(iam)
    serial = raw.create_virtual_mfa_device(VirtualMFADeviceName="phone")["VirtualMFADevice"]["SerialNumber"]
    raw.enable_mfa_device(
        UserName="arthur", SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
    )
    html = _page(operator_client, "arthur", section="security_credentials")
    assert re.search(r'data-testid="console-access">\s*Enabled</dd>', html)
    assert _rows(html, "mfa-table")[0][:2] == ["Virtual", serial]


# --- Permissions tab -------------------------------------------------------------------------


def _user_with_policies(iam) -> None:
    iam.create_user("arthur")
    iam.attach_user_policy("arthur", READ_ONLY)
    iam.put_user_policy("arthur", "s3-all", INLINE)
    iam.create_group("dbas")
    iam.attach_group_policy("dbas", DATABASE_ADMIN)
    _raw(iam).put_group_policy(GroupName="dbas", PolicyName="group-inline", PolicyDocument=INLINE)
    iam.add_user_to_group("dbas", "arthur")


def test_the_permissions_tab_lists_direct_inline_and_group_policies(iam, operator_client) -> None:
    _user_with_policies(iam)
    html = _page(operator_client, "arthur")
    assert "Permissions policies (4)" in html
    assert [row[1:] for row in _rows(html, "permissions-table")] == [
        ["AWS managed - job function", "Group dbas"],
        ["Customer inline", "Group dbas"],
        ["AWS managed - job function", "Directly"],
        ["Customer inline", "Inline"],
    ]
    names = [row[0].lstrip("▸ ") for row in _rows(html, "permissions-table")]
    assert names == ["DatabaseAdministrator", "group-inline", "ReadOnlyAccess", "s3-all"]


def test_the_permissions_tab_filters_by_type_and_searches(iam, operator_client) -> None:
    _user_with_policies(iam)
    inline = _rows(_page(operator_client, "arthur", type="Customer inline"), "permissions-table")
    assert [row[0].lstrip("▸ ") for row in inline] == ["group-inline", "s3-all"]
    found = _rows(_page(operator_client, "arthur", q="READ"), "permissions-table")
    assert [row[0].lstrip("▸ ") for row in found] == ["ReadOnlyAccess"]
    empty = _page(operator_client, "arthur", q="nothing-like-this")
    assert "No policies match the filter." in empty
    ignored = _page(operator_client, "arthur", type="Bogus type")  # an unknown type filters nothing
    assert len(_rows(ignored, "permissions-table")) == 4


@pytest.mark.parametrize(
    "key, expected",
    [
        (READ_ONLY, '"Version": "2012-10-17"'),
        ("inline:s3-all", '"Action": "s3:*"'),
        ("group:dbas:group-inline", '"Action": "s3:*"'),
    ],
)
def test_it_shows_the_json_of_the_policy_the_operator_expands(iam, operator_client, key, expected) -> None:
    _user_with_policies(iam)
    html = _page(operator_client, "arthur", show=key)
    match = re.search(r'data-testid="policy-json">(.*?)</pre>', html, re.S)
    assert match is not None
    document = match.group(1)
    assert expected in document.replace("&quot;", '"')
    assert f"show={quote(key, safe='/')}" in html


def test_it_ignores_a_json_request_for_a_policy_the_user_does_not_have(iam, operator_client) -> None:
    _user_with_policies(iam)
    with CALLS.measure() as calls:
        html = _page(operator_client, "arthur", show="arn:aws:iam::aws:policy/AdministratorAccess")
    assert 'data-testid="policy-json"' not in html
    assert "GetPolicy" not in calls.by_operation


# --- Groups, Tags ----------------------------------------------------------------------------


def test_the_groups_tab_counts_the_groups_and_lists_their_policies(iam, operator_client) -> None:
    _user_with_policies(iam)
    iam.create_group("all")
    iam.add_user_to_group("all", "arthur")
    html = _page(operator_client, "arthur", section="groups")
    assert re.search(r'data-testid="tab-groups">Groups \(2\)', html)
    assert "User groups membership (2)" in html
    assert [row[1:] for row in _rows(html, "groups-table")] == [["all", "None"], ["dbas", "DatabaseAdministrator"]]


def test_the_tags_tab_marks_access_key_descriptions(iam, operator_client) -> None:
    iam.create_user("arthur", tags={"team": "blue"})
    key = iam.create_access_key("arthur")
    iam.tag_user("arthur", {key.access_key_id: "laptop CLI"})
    html = _page(operator_client, "arthur", section="tags")
    assert "Tags (2)" in html
    assert _rows(html, "tags-table") == [
        ["team", "blue"],
        [f"{key.access_key_id} Access key description", "laptop CLI"],
    ]


# --- Security credentials --------------------------------------------------------------------


def test_the_security_credentials_tab_lists_every_kind(iam, operator_client) -> None:
    iam.create_user("arthur")
    iam.create_login_profile("arthur", "Initial-Passw0rd!", reset_required=True)
    key = iam.create_access_key("arthur")
    iam.update_access_key("arthur", key.access_key_id, "Inactive")
    iam.tag_user("arthur", {key.access_key_id: "old laptop"})
    raw = _raw(iam)
    ssh_id = raw.upload_ssh_public_key(UserName="arthur", SSHPublicKeyBody=_ssh_key())["SSHPublicKey"]["SSHPublicKeyId"]
    cert_id = raw.upload_signing_certificate(UserName="arthur", CertificateBody=_certificate())["Certificate"][
        "CertificateId"
    ]

    html = _page(operator_client, "arthur", section="security_credentials")

    assert "https://123456789012.signin.aws.amazon.com/console" in html
    assert re.search(r"console-password.>Enabled · set (now|.* ago) · reset required at next sign-in", html)
    keys = _rows(html, "access-keys-table")
    assert [keys[0][0], keys[0][1], keys[0][2], keys[0][4]] == [key.access_key_id, "old laptop", "Inactive", "Never"]
    assert [row[0] for row in _rows(html, "ssh-keys-table")] == [ssh_id]
    assert [row[0] for row in _rows(html, "certificates-table")] == [cert_id]
    assert "No HTTPS Git credentials." in html and "No credentials for Amazon Keyspaces." in html


def test_an_unknown_section_shows_the_permissions_tab(iam, operator_client) -> None:
    iam.create_user("arthur")
    html = _page(operator_client, "arthur", section="<script>")
    assert 'data-testid="permissions"' in html and "script&gt;" not in html


def test_a_viewer_reads_the_details(iam, viewer_client) -> None:
    iam.create_user("arthur")
    html = _page(viewer_client, "arthur", section="security_credentials")
    assert 'data-testid="security-credentials"' in html and 'data-testid="delete-user"' not in html


# --- IAM calls per page ----------------------------------------------------------------------


@pytest.mark.parametrize("section", ["permissions", "groups", "tags", "security_credentials"])
def test_each_tab_costs_at_most_12_calls_however_much_the_user_has(iam, operator_client, section) -> None:
    iam.create_user("arthur", tags={f"k{n}": "v" for n in range(20)})
    iam.create_login_profile("arthur", "Initial-Passw0rd!", reset_required=False)
    iam.create_access_key("arthur")
    iam.create_access_key("arthur")
    for n in range(10):
        iam.create_group(f"group{n}")
        iam.attach_group_policy(f"group{n}", READ_ONLY)
        iam.add_user_to_group(f"group{n}", "arthur")
        iam.put_user_policy("arthur", f"inline{n}", json.dumps(json.loads(INLINE)))
    for arn in (READ_ONLY, DATABASE_ADMIN):
        iam.attach_user_policy("arthur", arn)

    with CALLS.measure() as calls:
        _page(operator_client, "arthur", section=section)  # account info and group index cold
    assert calls.total <= 12, calls.by_operation
    assert calls.by_operation["GetAccessKeyLastUsed"] == 2  # one per key, two keys at most
