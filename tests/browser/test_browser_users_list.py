"""The console in a real browser: sign in, see and search the users list, sign out."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_redirects_an_anonymous_visitor_to_sign_in(page: Page, console: str, screenshot) -> None:
    page.goto(f"{console}/users/")
    expect(page).to_have_url(f"{console}/login/?next=/users/")
    expect(page.get_by_role("heading", name="Sign in to IAM Console")).to_be_visible()
    screenshot("login")


def test_it_shows_an_empty_users_list_after_sign_in(page: Page, console: str, live_operator, screenshot) -> None:
    sign_in(page, console)
    expect(page.get_by_role("heading", name="IAM users (0)")).to_be_visible()
    expect(page.get_by_text("No users to display.")).to_be_visible()
    expect(page.get_by_test_id("account")).to_contain_text("123456789012")
    screenshot("empty-users")


def test_it_lists_and_searches_users_created_in_iam(
    page: Page, console: str, live_operator, server_gateway, screenshot
) -> None:
    server_gateway.create_user("arthur")
    server_gateway.create_user("ford+prefect@example.com")
    server_gateway.create_group("Developers")
    server_gateway.add_user_to_group("Developers", "arthur")
    key = server_gateway.create_access_key("ford+prefect@example.com")

    sign_in(page, console)
    table = page.get_by_test_id("users-table")
    expect(page.get_by_role("heading", name="IAM users (2)")).to_be_visible()
    expect(table.get_by_role("row", name="arthur")).to_contain_text("Developers")
    expect(table.get_by_role("row", name="ford+prefect@example.com")).to_contain_text(f"{key.access_key_id} (Active)")
    screenshot("users")

    page.get_by_placeholder("Search by user name or access key ID").fill("ART")
    page.get_by_role("button", name="Search").click()
    expect(table.get_by_role("link")).to_have_text(["arthur"])

    page.get_by_placeholder("Search by user name or access key ID").fill(key.access_key_id)
    page.get_by_role("button", name="Search").click()
    expect(table.get_by_role("link")).to_have_text(["ford+prefect@example.com"])
    screenshot("search-by-key")

    table.get_by_role("link", name="ford+prefect@example.com").click()
    expect(page.get_by_test_id("arn")).to_have_text("arn:aws:iam::123456789012:user/ford+prefect@example.com")
    screenshot("user-summary")


def test_it_signs_out_and_then_requires_sign_in_again(page: Page, console: str, live_operator) -> None:
    sign_in(page, console)
    expect(page.get_by_role("heading", name="IAM users (0)")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    page.goto(f"{console}/account/")
    expect(page).to_have_url(f"{console}/login/?next=/account/")


def test_it_deletes_selected_users_with_everything_they_hold(
    page: Page, console: str, live_operator, server_gateway, screenshot
) -> None:
    server_gateway.create_group("Developers")
    for name in ("arthur", "ford", "zaphod"):
        server_gateway.create_user(name)
        server_gateway.add_user_to_group("Developers", name)
    server_gateway.create_login_profile("arthur", "Passw0rd!Passw0rd", reset_required=False)
    server_gateway.create_access_key("ford")
    server_gateway.attach_user_policy("ford", "arn:aws:iam::aws:policy/ReadOnlyAccess")

    sign_in(page, console)
    page.get_by_label("Select arthur").check()
    page.get_by_label("Select ford").check()
    page.get_by_test_id("delete-users").click()
    expect(page.get_by_role("heading", name="Delete 2 users?")).to_be_visible()
    field = page.get_by_label("To confirm deletion, enter delete in the text input field.")
    field.fill("arthur")
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_text("Enter delete to confirm.")).to_be_visible()
    assert {user.name for user in server_gateway.list_users()} == {"arthur", "ford", "zaphod"}
    screenshot("confirmation-refused")

    field.fill("delete")
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("heading", name="Delete users: result")).to_be_visible()
    expect(page.locator('[data-testid="deletion"][data-deleted="yes"]')).to_have_count(2)
    expect(page.locator('[data-user="arthur"]')).to_contain_text("Console password")
    expect(page.locator('[data-user="ford"]')).to_contain_text("Policy ReadOnlyAccess (detached; the policy is kept)")
    screenshot("result")
    assert [user.name for user in server_gateway.list_users()] == ["zaphod"]
    assert [group.name for group in server_gateway.list_groups_for_user("zaphod")] == ["Developers"]

    page.get_by_role("link", name="Back to users").click()
    expect(page.get_by_role("heading", name="IAM users (1)")).to_be_visible()


def test_it_remembers_the_columns_an_operator_chooses(
    page: Page, console: str, live_operator, server_gateway, screenshot
) -> None:
    server_gateway.create_user("arthur")
    server_gateway.create_login_profile("arthur", "Passw0rd!Passw0rd", reset_required=False)

    sign_in(page, console)
    table = page.get_by_test_id("users-table")
    expect(table.get_by_role("columnheader", name="MFA", exact=True)).to_be_visible()
    expect(table.locator('td[data-column="console_last_sign_in"]')).to_have_text("Never")
    expect(table.get_by_role("columnheader", name="Created")).to_have_count(0)
    screenshot("default-columns")

    page.get_by_test_id("list-preferences").locator("summary").click()
    page.get_by_label("MFA", exact=True).uncheck()
    page.get_by_label("Created", exact=True).check()
    page.get_by_label("10 users").check()
    screenshot("preferences")
    page.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_text("Preferences saved.")).to_be_visible()

    page.goto(f"{console}/users/")
    expect(table.get_by_role("columnheader", name="Created")).to_be_visible()
    expect(table.get_by_role("columnheader", name="MFA", exact=True)).to_have_count(0)
    expect(page.locator('input[name="per_page"][type="hidden"]')).to_have_value("10")
    screenshot("chosen-columns")
