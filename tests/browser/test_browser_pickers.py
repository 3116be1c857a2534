"""Policy pickers in a real browser: the Create group dialog of a user's Add permissions, and the
single-choice boundary pickers (a user's Set permissions boundary page, the wizard's boundary)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

JOB_FUNCTION = "AWS managed - job function"


def _policy_names(gateway, group: str) -> set[str]:
    return {policy.name for policy in gateway.list_attached_group_policies(group)}


def test_add_permissions_creates_a_group_in_its_dialog_and_selects_it(
    page: Page, console: str, live_operator, server_gateway, screenshot
) -> None:
    server_gateway.create_user("arthur")
    server_gateway.create_group("Developers")
    sign_in(page, console)
    page.goto(f"{console}/users/details/arthur/permissions/add/")
    page.get_by_label("Developers", exact=True).check()

    # A name taken (whatever its case): the error is next to the field, nothing else changes.
    page.get_by_role("button", name="Create group").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Group name").fill("developers")
    dialog.get_by_label("Search the new group's policies").fill("billing")
    expect(dialog.locator("[data-picker-where]")).to_contain_text("Page 1 of 1")
    dialog.get_by_label("Billing", exact=True).check()
    dialog.get_by_role("button", name="Create group").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_test_id("new-group-name-error")).to_have_text(
        "A group with this name already exists. Group names are not case sensitive."
    )
    expect(dialog.locator("[data-picker-selected]")).to_have_text("Billing")
    expect(page.get_by_label("Developers", exact=True)).to_be_checked()
    screenshot("name-taken")
    assert [group.name for group in server_gateway.list_groups()] == ["Developers"]

    # The shared picker: Type filter, search, pages, JSON, the count.
    dialog.get_by_label("Group name").fill("DatabaseAdmins")
    picker = dialog.get_by_test_id("new-group-picker")
    where = picker.locator("[data-picker-where]")
    picker.get_by_label("Search the new group's policies").fill("")
    picker.get_by_label("Filter the new group's policies by Type").select_option(JOB_FUNCTION)
    expect(where).to_contain_text("Page 1 of 1 ·")
    picker.get_by_label("Filter the new group's policies by Type").select_option("")
    picker.get_by_role("button", name="Next page").click()
    expect(where).to_contain_text("Page 2 of ")
    picker.get_by_label("Filter the new group's policies by Type").select_option(JOB_FUNCTION)
    picker.get_by_label("Search the new group's policies").fill("databaseadministrator")
    expect(where).to_have_text("Page 1 of 1 · 1 policy")
    picker.get_by_role("button", name="Show the policy JSON of DatabaseAdministrator").click()
    expect(picker.locator(".policy-json")).to_contain_text('"Statement": [')
    picker.get_by_label("DatabaseAdministrator", exact=True).check()
    expect(picker.locator("[data-picker-selected]")).to_have_text("Billing, DatabaseAdministrator")
    expect(dialog.locator('[data-picker-count-for="id_new_group-policies"]')).to_have_text("2")
    screenshot("dialog")
    dialog.get_by_role("button", name="Create group").click()

    expect(page.get_by_text("User group DatabaseAdmins created.")).to_be_visible()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_label("DatabaseAdmins", exact=True)).to_be_checked()
    expect(page.get_by_label("Developers", exact=True)).to_be_checked()
    assert _policy_names(server_gateway, "DatabaseAdmins") == {"Billing", "DatabaseAdministrator"}
    screenshot("created")

    page.get_by_role("button", name="Next", exact=True).click()
    expect(page.get_by_test_id("review-permissions")).to_contain_text("DatabaseAdmins")
    page.get_by_role("button", name="Add permissions").click()
    expect(page.get_by_text("Permissions added to arthur: group DatabaseAdmins, group Developers.")).to_be_visible()
    assert {group.name for group in server_gateway.list_groups_for_user("arthur")} == {"DatabaseAdmins", "Developers"}


def test_the_boundary_page_searches_filters_pages_and_keeps_one_choice(
    page: Page, console: str, live_operator, server_gateway, screenshot
) -> None:
    server_gateway.create_user("arthur")
    sign_in(page, console)
    page.goto(f"{console}/users/details/arthur/")
    page.get_by_role("link", name="Set permissions boundary").click()
    picker = page.get_by_test_id("boundary-picker")
    where = picker.locator("[data-picker-where]")
    selected = picker.locator("[data-picker-selected]")

    picker.get_by_role("button", name="Next page").click()
    expect(where).to_contain_text("Page 2 of ")
    first = picker.locator("tbody tr label").first.inner_text()
    picker.get_by_label(first, exact=True).check()
    expect(selected).to_have_text(first)
    picker.get_by_role("button", name="Previous page").click()
    expect(where).to_contain_text("Page 1 of ")
    expect(selected).to_have_text(first)  # kept while its row is off the page
    expect(picker.locator(f'input[type=hidden][data-policy-name="{first}"]')).to_have_count(1)

    picker.get_by_label("Filter boundary policies by Type").select_option(JOB_FUNCTION)
    picker.get_by_label("Search boundary policies").fill("securityaudit")
    expect(where).to_have_text("Page 1 of 1 · 1 policy")
    picker.get_by_label("SecurityAudit", exact=True).check()  # one choice: it replaces the first
    expect(selected).to_have_text("SecurityAudit")
    expect(picker.locator("input[type=radio]:checked")).to_have_count(1)
    expect(picker.locator("input[type=hidden][name=policy]")).to_have_count(0)
    screenshot("chosen")
    page.get_by_role("button", name="Set boundary").click()

    expect(page.get_by_text("Permissions boundary set to SecurityAudit.")).to_be_visible()
    assert server_gateway.get_user("arthur").permissions_boundary_arn == "arn:aws:iam::aws:policy/SecurityAudit"
    page.get_by_role("link", name="Change boundary").click()
    expect(page.get_by_test_id("boundary-picker").locator("[data-picker-selected]")).to_have_text("SecurityAudit")


def test_the_wizard_boundary_keeps_its_choice_from_another_page_through_next_and_previous(
    page: Page, console: str, live_operator, server_gateway
) -> None:
    sign_in(page, console)
    page.goto(f"{console}/users/create/")
    page.get_by_label("User name*").fill("arthur")
    page.get_by_label("Programmatic access").check()
    page.get_by_test_id("wizard-next").click()

    page.get_by_text("Set permissions boundary").click()
    page.get_by_label("Use a permissions boundary to control the maximum user permissions").check()
    boundary = page.get_by_test_id("boundary-picker")
    boundary.get_by_role("button", name="Next page").click()
    expect(boundary.locator("[data-picker-where]")).to_contain_text("Page 2 of ")
    chosen = boundary.locator("tbody tr label").nth(2).inner_text()
    boundary.get_by_label(chosen, exact=True).check()
    boundary.get_by_label("Search boundary policies").fill("zzz no such policy")
    expect(boundary.locator("[data-picker-where]")).to_have_text("Page 1 of 1 · 0 policies")
    page.get_by_test_id("wizard-next").click()

    expect(page.get_by_role("heading", name="Add tags (optional)")).to_be_visible()
    page.get_by_role("button", name="Previous").click()
    boundary = page.get_by_test_id("boundary-picker")
    expect(boundary.locator("[data-picker-selected]")).to_have_text(chosen)
    page.get_by_test_id("wizard-next").click()
    page.get_by_test_id("wizard-next").click()
    summary = page.get_by_test_id("review-permissions")
    expect(summary.get_by_role("row", name=chosen)).to_contain_text("Permissions boundary")
