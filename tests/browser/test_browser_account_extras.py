"""Account settings' alias and credential report, and the user details page's Last Accessed
tab, in a real browser against the moto server (with the embedded backend's extensions)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from users.models import AuditEvent

from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

S3_AND_SQS = (
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:*", "sqs:*"], "Resource": "*"}]}'
)


def _aliases(server_gateway) -> list[str]:
    return list(server_gateway.clients[0].list_account_aliases()["AccountAliases"])


def test_it_sets_changes_and_deletes_the_alias(
    page: Page, console: str, live_operator, server_gateway, screenshot
) -> None:
    sign_in(page, console)
    page.get_by_role("link", name="Account settings").click()
    expect(page.get_by_test_id("account-alias")).to_have_text("None")

    page.get_by_role("link", name="Create account alias").click()
    page.get_by_label("Account alias").fill("Example--Corp")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("Use only lowercase letters (a-z), digits (0-9) and hyphens (-).")).to_be_visible()
    screenshot("alias-error")
    assert _aliases(server_gateway) == []

    page.get_by_label("Account alias").fill("example-corp")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("The account alias is now example-corp.")).to_be_visible()
    expect(page.get_by_test_id("account")).to_have_text("Account 123456789012 (example-corp)")
    expect(page.get_by_test_id("sign-in-url")).to_have_text("https://example-corp.signin.aws.amazon.com/console")
    assert _aliases(server_gateway) == ["example-corp"]

    page.get_by_role("link", name="Edit account alias").click()
    expect(page.get_by_label("Account alias")).to_have_value("example-corp")
    page.get_by_label("Account alias").fill("example-corp-2")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_test_id("account")).to_have_text("Account 123456789012 (example-corp-2)")
    assert _aliases(server_gateway) == ["example-corp-2"]
    screenshot("alias-changed")

    page.get_by_role("link", name="Delete account alias").click()
    expect(page.get_by_role("heading", name="Delete account alias example-corp-2?")).to_be_visible()
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_text("The account alias example-corp-2 was deleted.")).to_be_visible()
    expect(page.get_by_test_id("account")).to_have_text("Account 123456789012")
    expect(page.get_by_test_id("account-alias")).to_have_text("None")
    assert _aliases(server_gateway) == []


def test_it_downloads_the_credential_report(page: Page, console: str, live_operator, server_gateway) -> None:
    server_gateway.create_user("arthur")
    sign_in(page, console)
    page.goto(f"{console}/account/")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download credentials report").click()

    assert download.value.suggested_filename.startswith("status_reports_")
    assert download.value.suggested_filename.endswith("Z.csv")
    content = Path(download.value.path()).read_bytes()
    assert content == server_gateway.clients[0].get_credential_report()["Content"]
    assert b"\narthur,arn:aws:iam::123456789012:user/arthur," in content
    assert AuditEvent.objects.filter(action="DownloadCredentialReport", outcome="success").count() == 1


def test_it_opens_the_last_accessed_tab_and_filters(
    page: Page, console: str, live_operator, server_gateway, screenshot
) -> None:
    server_gateway.create_user("arthur")
    server_gateway.put_user_policy("arthur", "storage", S3_AND_SQS)
    server_gateway.create_user("newcomer")
    sign_in(page, console)

    page.goto(f"{console}/users/details/arthur/")
    page.get_by_test_id("tab-last_accessed").click()
    table = page.get_by_test_id("last-accessed-table")
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table).to_contain_text("Amazon S3")
    expect(table).to_contain_text("Amazon SQS")
    expect(table.locator("tbody tr").first).to_contain_text("storage")
    expect(table.locator("tbody tr").first).to_contain_text("Not accessed in the tracking period")
    screenshot("last-accessed")

    page.get_by_label("Filter").select_option(label="Services accessed")
    page.get_by_role("button", name="Apply").click()
    expect(table.locator("tbody")).to_have_text("No services match the filter.")
    page.get_by_label("Filter").select_option(label="Services not accessed")
    page.get_by_role("button", name="Apply").click()
    expect(table.locator("tbody tr")).to_have_count(2)

    page.goto(f"{console}/users/details/newcomer/?section=last_accessed")
    expect(page.get_by_test_id("last-accessed-empty")).to_be_visible()
