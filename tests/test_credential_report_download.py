"""The credential report's download on Account settings: IAM's CSV, byte for byte, audited
(unit: Django test client, moto's mock_aws with the embedded backend's report)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.faults import inject
from users.models import AuditEvent

pytestmark = pytest.mark.django_db

URL = "users:credential_report"


def test_it_serves_iam_s_report_as_an_attachment_and_audits_it(iam, operator, operator_client) -> None:
    iam.create_user("=cmd|' /C calc'!A0")  # a formula-like name stays as IAM wrote it
    iam.create_user("arthur")
    iam.create_login_profile("arthur", "Initial-Passw0rd!", reset_required=False)

    response = operator_client.get(reverse(URL))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    disposition = response["Content-Disposition"]
    match = re.fullmatch(r'attachment; filename="status_reports_(\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d)Z\.csv"', disposition)
    assert match, disposition
    iam_report = iam.clients[0].get_credential_report()
    assert response.content == iam_report["Content"]
    assert match.group(1) == iam_report["GeneratedTime"].strftime("%Y-%m-%dT%H-%M-%S")
    lines = response.content.decode().splitlines()
    assert lines[0].startswith("user,arn,user_creation_time,password_enabled,")
    assert lines[1].startswith("=cmd|' /C calc'!A0,arn:aws:iam::123456789012:user/")
    assert "no-store" in response["Cache-Control"]
    event = AuditEvent.objects.get(action="DownloadCredentialReport")
    assert (event.operator_name, event.target, event.outcome) == (operator.username, "account", "success")
    assert event.parameters == {"generated": iam_report["GeneratedTime"].isoformat()}


def test_a_viewer_may_download_it(iam, viewer_client) -> None:
    response = viewer_client.get(reverse(URL))
    assert response.status_code == 200
    assert response.content.startswith(b"user,arn,")
    assert AuditEvent.objects.get(action="DownloadCredentialReport").operator_name == "bob"


def test_a_report_still_in_progress_says_so_and_is_audited_as_failed(iam, operator_client) -> None:
    with inject(iam, "GetCredentialReport", "ReportInProgress", status=404, message="In progress") as fault:
        response = operator_client.get(reverse(URL), follow=True)

    assert fault.hits == 1
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == reverse("users:account_settings")
    messages = [str(message) for message in response.context["messages"]]
    assert messages == ["IAM is still generating the credential report. Try again in a few seconds."]
    event = AuditEvent.objects.get(action="DownloadCredentialReport")
    assert (event.outcome, event.error_code) == ("failure", "ReportInProgress")


def test_the_account_settings_page_offers_the_download(iam, operator_client) -> None:
    html = operator_client.get(reverse("users:account_settings")).content.decode()
    assert f'href="{reverse(URL)}"' in html
    assert "Download credentials report" in html


def test_it_is_not_a_post_target(iam, operator_client) -> None:
    assert operator_client.post(reverse(URL)).status_code == 405
    assert not AuditEvent.objects.exists()
