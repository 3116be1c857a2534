"""IAM_READ_ONLY in a real browser: an operator sees the banner and the account, and no button
that would change IAM."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_operator_sees_the_read_only_banner_and_no_change_buttons(
    page: Page, console: str, live_operator, server_gateway, settings, screenshot
) -> None:
    server_gateway.create_user("arthur")
    server_gateway.create_group("devs")
    settings.IAM_READ_ONLY = True
    sign_in(page, console)

    expect(page.get_by_test_id("read-only-banner")).to_have_text(
        "Read-only: this console makes no changes to account 123456789012. "
        "Creating, changing and deleting are turned off (IAM_READ_ONLY)."
    )
    expect(page.get_by_test_id("account")).to_have_text("Account 123456789012")
    expect(page.get_by_test_id("caller-arn")).to_have_text("arn:aws:sts::123456789012:user/moto")
    expect(page.get_by_role("cell", name="arthur")).to_be_visible()  # reads work
    expect(page.get_by_role("link", name="Add users")).to_have_count(0)
    expect(page.get_by_role("link", name="Import users")).to_have_count(0)
    expect(page.get_by_role("button", name="Delete")).to_have_count(0)
    screenshot("users-list")

    page.get_by_role("link", name="arthur").click()
    expect(page.get_by_role("heading", name="arthur")).to_be_visible()
    expect(page.get_by_test_id("read-only-banner")).to_be_visible()
    expect(page.get_by_role("link", name="Delete")).to_have_count(0)
    page.get_by_test_id("tab-security_credentials").click()
    expect(page.get_by_role("link", name="Create access key")).to_have_count(0)
    expect(page.get_by_role("link", name="Enable console access")).to_have_count(0)

    page.get_by_role("link", name="User groups").click()
    expect(page.get_by_role("cell", name="devs")).to_be_visible()
    expect(page.get_by_role("link", name="Create group")).to_have_count(0)
    expect(page.get_by_role("button", name="Delete")).to_have_count(0)

    # Typing a change page's address does not get round it.
    response = page.goto(f"{console}/users/create/")
    assert response is not None and response.status == 403
    expect(page.get_by_text("This console is read-only (IAM_READ_ONLY)")).to_be_visible()
    screenshot("create-refused")
    assert [user.name for user in server_gateway.list_users()] == ["arthur"]
