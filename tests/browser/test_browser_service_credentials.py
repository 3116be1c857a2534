"""HTTPS Git credentials for AWS CodeCommit in a real browser, against the moto server: generate
(the password shown once, its .csv), reset the password, make inactive, delete."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _shown_password(page: Page) -> str:
    page.get_by_role("button", name="Show password").click()
    password = page.get_by_test_id("secret").inner_text()
    assert len(password) >= 20
    return password


def test_it_generates_resets_deactivates_and_deletes_git_credentials(
    page: Page, console: str, live_operator, server_gateway, screenshot
) -> None:
    server_gateway.create_user("arthur")
    sign_in(page, console)
    page.goto(f"{console}/users/details/arthur/?section=security_credentials")
    expect(page.get_by_role("heading", name="HTTPS Git credentials for AWS CodeCommit (0)")).to_be_visible()
    page.get_by_test_id("generate-codecommit").click()

    expect(page.get_by_role("heading", name="HTTPS Git credentials for AWS CodeCommit")).to_be_visible()
    [credential] = server_gateway.list_service_specific_credentials("arthur")
    expect(page.get_by_test_id("service-user-name")).to_have_text(credential.service_user_name)
    password = _shown_password(page)
    screenshot("generated")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download credentials").click()
    assert download.value.suggested_filename == "arthur_codecommit_credentials.csv"
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert rows == [["User Name", "Password"], [credential.service_user_name, password]]
    retrieve_url = page.url
    page.get_by_role("button", name="Done").click()

    row = page.locator(f'tr[data-credential="{credential.credential_id}"]')
    expect(row).to_contain_text("Active")
    page.goto(retrieve_url)  # the password is gone once Done
    expect(page.get_by_test_id("credentials-gone")).to_be_visible()
    assert password not in page.content()

    page.goto(f"{console}/users/details/arthur/?section=security_credentials")
    row.get_by_role("link", name="Reset password").click()
    expect(page.get_by_role("heading", name="Reset password?")).to_be_visible()
    page.get_by_role("button", name="Reset password").click()
    new_password = _shown_password(page)
    assert new_password != password
    page.get_by_role("button", name="Done").click()

    row.get_by_role("button", name="Make inactive").click()
    expect(page.get_by_text(f"Service-specific credential {credential.credential_id} deactivated.")).to_be_visible()
    expect(row.get_by_role("button", name="Make active")).to_be_visible()
    assert server_gateway.list_service_specific_credentials("arthur")[0].status == "Inactive"

    row.get_by_role("link", name="Delete").click()
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_text(f"Service-specific credential {credential.credential_id} deleted.")).to_be_visible()
    expect(page.get_by_text("No HTTPS Git credentials.")).to_be_visible()
    assert server_gateway.list_service_specific_credentials("arthur") == []
    screenshot("deleted")
