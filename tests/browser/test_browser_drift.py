"""Changes since your last visit in a real browser: an operator's first visit takes the baseline;
someone changes IAM directly (plain boto3 on the moto server) while the operator deletes a user
through the console; the navigation's badge counts only the changes made elsewhere, the page lists
each with a link, and Mark as seen clears the badge."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.iam_clients import direct_client

from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

READ_ONLY_POLICY = "arn:aws:iam::aws:policy/ReadOnlyAccess"


def test_it_lists_the_changes_made_outside_the_console_until_marked_as_seen(
    page: Page, console: str, iam_server: str, live_operator, server_gateway, screenshot, docs_screenshot
) -> None:
    server_gateway.create_group("Developers")
    for name in ("arthur", "trillian", "zaphod"):
        server_gateway.create_user(name)
    server_gateway.create_login_profile("trillian", "Passw0rd!Passw0rd", reset_required=False)

    sign_in(page, console)
    nav = page.get_by_role("navigation", name="Identity and Access Management")
    nav.get_by_role("link", name="Changes since last visit").click()
    expect(page.get_by_role("heading", name="Changes since your last visit (0)")).to_be_visible()
    expect(page.get_by_test_id("drift-first-visit")).to_contain_text("baseline of the 3 users")

    # Elsewhere: the AWS CLI, Terraform, another console ... (no audit row of this console).
    elsewhere = direct_client(iam_server)
    elsewhere.create_user(UserName="ford")
    elsewhere.add_user_to_group(GroupName="Developers", UserName="arthur")
    elsewhere.attach_user_policy(UserName="arthur", PolicyArn=READ_ONLY_POLICY)
    elsewhere.create_access_key(UserName="ford")
    elsewhere.delete_login_profile(UserName="trillian")
    # Here: zaphod deleted through the console (audited, so not listed).
    page.get_by_role("link", name="Users", exact=True).click()
    page.get_by_label("Select zaphod").check()
    page.get_by_test_id("delete-users").click()
    page.get_by_label("To confirm deletion, enter the user name in the text input field.").fill("zaphod")
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("heading", name="Delete users: result")).to_be_visible()

    page.goto(f"{console}/users/?refresh=1")  # read IAM again rather than wait for the cache
    badge = nav.get_by_test_id("drift-badge")
    expect(badge).to_have_text("5 changes")  # the count and its text for screen readers
    nav.get_by_role("link", name="Changes since last visit").click()
    expect(page.get_by_role("heading", name="Changes since your last visit (5)")).to_be_visible()
    rows = page.get_by_test_id("drift-row")
    expect(rows).to_have_count(5)
    table = page.get_by_test_id("drift-table")
    for text in (
        "User created",
        "Added to group",
        "Policy attached",
        "Access key created",
        "Console access disabled",
    ):
        expect(table).to_contain_text(text)
    expect(table).not_to_contain_text("zaphod")
    expect(table.get_by_role("link", name="Developers")).to_have_attribute("href", "/groups/Developers/")
    screenshot("changes")
    docs_screenshot("drift")

    table.get_by_role("row").filter(has_text="Console access disabled").get_by_role("link", name="trillian").click()
    expect(page.get_by_role("heading", name="trillian")).to_be_visible()
    expect(page).to_have_url(f"{console}/users/details/trillian/?section=security_credentials")

    page.go_back()
    page.get_by_role("button", name="Mark as seen").click()
    expect(page.get_by_text("Marked as seen")).to_be_visible()
    expect(page.get_by_test_id("drift-none")).to_have_text("No changes outside the console since your last visit.")
    expect(nav.get_by_test_id("drift-badge")).to_have_count(0)
    page.get_by_role("link", name="Users", exact=True).click()
    expect(page.get_by_role("heading", name="IAM users (3)")).to_be_visible()
    expect(nav.get_by_test_id("drift-badge")).to_have_count(0)
