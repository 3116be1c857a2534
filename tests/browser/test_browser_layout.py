"""What trips people up, in a real browser at 1400 × 900: the users table fits without scrolling
sideways, radio buttons keep a gap before their labels, Delete waits for a selection, error
pages keep the console's frame, and Manage console access keeps the password unless asked."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The gap (px) between each radio button matched by `selector` and the first character of its
# label: the label's text node, or the text that follows the radio in its tile.
RADIO_GAPS = """selector => [...document.querySelectorAll(selector)].map(radio => {
  const label = radio.labels.length && !radio.labels[0].contains(radio) ? radio.labels[0] : radio.nextElementSibling;
  const range = document.createRange();
  range.selectNodeContents(label);
  const text = [...range.getClientRects()].find(rect => rect.width > 0);
  return {value: radio.value, gap: text.left - radio.getBoundingClientRect().right};
})"""


def _expect_gaps(page: Page, selector: str, count: int) -> None:
    gaps = page.evaluate(RADIO_GAPS, selector)
    assert len(gaps) == count, gaps
    assert all(gap["gap"] >= 4 for gap in gaps), gaps


def test_the_users_table_shows_every_default_column_without_scrolling(
    page: Page, console: str, live_operator, server_gateway, screenshot
) -> None:
    for group in ("Developers-platform-team", "Operations-on-call", "Security-auditors"):
        server_gateway.create_group(group)
    names = ("ford.prefect+hitchhiker@megadodo-publications.example.com", "arthur", "zaphod-beeblebrox-president")
    for name in names:
        server_gateway.create_user(name, path="/engineering/platform/")
        for group in ("Developers-platform-team", "Operations-on-call", "Security-auditors"):
            server_gateway.add_user_to_group(group, name)
        server_gateway.create_login_profile(name, "Passw0rd!Passw0rd", reset_required=False)
        server_gateway.create_access_key(name)
        server_gateway.create_access_key(name)

    sign_in(page, console)
    table = page.get_by_test_id("users-table")
    expect(table.get_by_role("row")).to_have_count(4)
    screenshot("users-1400")
    sizes = table.evaluate(
        "t => ({table: t.scrollWidth, box: t.parentElement.clientWidth, boxScroll: t.parentElement.scrollWidth})"
    )
    assert sizes["boxScroll"] <= sizes["box"] and sizes["table"] <= sizes["box"], sizes
    headers = table.locator("thead th")
    expect(headers).to_have_count(11)  # the selection column and the ten default columns
    for index in range(11):
        box = headers.nth(index).bounding_box()
        assert box is not None and box["x"] + box["width"] <= 1400, (index, box)
    long_name = table.get_by_role("link", name=names[0])
    expect(long_name).to_be_visible()
    expect(table.locator("tbody tr").first.locator('[data-column="groups"]')).to_have_attribute(
        "title", "Developers-platform-team, Operations-on-call, Security-auditors"
    )


def test_radio_buttons_keep_a_gap_before_their_labels(
    page: Page, console: str, live_operator, server_gateway, screenshot
) -> None:
    server_gateway.create_user("arthur")
    server_gateway.create_login_profile("arthur", "Passw0rd!Passw0rd", reset_required=False)
    sign_in(page, console)

    page.goto(f"{console}/users/details/arthur/permissions/add/")
    _expect_gaps(page, ".option-tile input[type=radio]", 3)
    screenshot("permission-options")

    page.goto(f"{console}/users/details/arthur/console-access/")
    _expect_gaps(page, "[data-testid=console-access-form] input[type=radio]", 5)
    screenshot("console-access")

    page.goto(f"{console}/users/details/arthur/access-keys/create/")
    _expect_gaps(page, "input[type=radio]", 6)
    screenshot("access-key-use-cases")

    page.goto(f"{console}/users/create/")
    page.get_by_label("User name*").fill("ford")
    page.get_by_label("AWS Management Console access").check()
    _expect_gaps(page, "input[name$=access_type], input[name$=console_password]", 4)
    screenshot("wizard-details")
    page.get_by_test_id("wizard-next").click()
    expect(page.get_by_role("heading", name="Set permissions")).to_be_visible()
    page.get_by_text("Set permissions boundary").click()
    _expect_gaps(page, ".option-tile input[type=radio], input[name$=boundary]", 5)
    screenshot("wizard-permissions")


def test_delete_waits_for_a_selected_user(page: Page, console: str, live_operator, server_gateway) -> None:
    for name in ("arthur", "ford"):
        server_gateway.create_user(name)
    sign_in(page, console)
    delete = page.get_by_test_id("delete-users")
    expect(delete).to_be_disabled()
    page.get_by_label("Select ford").check()
    expect(delete).to_be_enabled()
    page.get_by_label("Select arthur").check()
    page.get_by_label("Select ford").uncheck()
    expect(delete).to_be_enabled()
    page.get_by_label("Select arthur").uncheck()
    expect(delete).to_be_disabled()
    page.get_by_label("Select arthur").check()
    delete.click()
    expect(page.get_by_role("heading", name="Delete arthur?")).to_be_visible()


def test_delete_waits_for_a_selected_group(page: Page, console: str, live_operator, server_gateway) -> None:
    server_gateway.create_group("pilots")
    sign_in(page, console)
    page.goto(f"{console}/groups/")
    delete = page.get_by_test_id("delete-groups")
    expect(delete).to_be_disabled()
    page.get_by_label("Select pilots").check()
    expect(delete).to_be_enabled()
    page.get_by_label("Select pilots").uncheck()
    expect(delete).to_be_disabled()


def test_error_pages_keep_the_consoles_frame(page: Page, console: str, live_operator, screenshot) -> None:
    sign_in(page, console)
    nav = page.get_by_role("navigation", name="Identity and Access Management")

    response = page.goto(f"{console}/no/such/page/")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(page.get_by_text("This page does not exist.")).to_be_visible()
    expect(nav.get_by_role("link", name="Users")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("Resolver404")
    screenshot("404")

    response = page.goto(f"{console}/jobs/00000000-0000-0000-0000-000000000000/")
    assert response is not None and response.status == 404
    expect(page.get_by_text("This job does not exist or was removed.")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("matches the given query")

    response = page.goto(f"{console}/policies/details/?arn=garbage")
    assert response is not None and response.status == 400
    expect(page.get_by_role("heading", name="Bad request")).to_be_visible()
    expect(page.get_by_text("That is not the ARN of a managed policy")).to_be_visible()
    expect(nav.get_by_role("link", name="Policies")).to_be_visible()
    screenshot("400")

    nav.get_by_role("link", name="Users").click()
    expect(page.get_by_role("heading", name="IAM users (0)")).to_be_visible()


def test_manage_console_access_keeps_the_password_by_default(
    page: Page, console: str, live_operator, server_gateway
) -> None:
    server_gateway.create_user("arthur")
    server_gateway.create_login_profile("arthur", "Passw0rd!Passw0rd", reset_required=False)
    sign_in(page, console)
    page.goto(f"{console}/users/details/arthur/console-access/")
    expect(page.get_by_label("Keep the existing password")).to_be_checked()
    expect(page.get_by_label("User must create a new password at next sign-in")).not_to_be_checked()
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_text("Nothing changed: the user keeps the existing password.")).to_be_visible()
    expect(page.get_by_role("heading", name="Console password")).to_have_count(0)
    profile = server_gateway.get_login_profile("arthur")
    assert profile is not None and profile.password_reset_required is False
