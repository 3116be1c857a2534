"""User groups in a real browser: create a group with a policy, add a user, attach another
policy, delete the group; each step checked in IAM (the moto server the console uses)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _policy_names(gateway, group: str) -> set[str]:
    return {policy.name for policy in gateway.list_attached_group_policies(group)}


def test_it_creates_a_group_adds_a_user_attaches_a_policy_and_deletes_the_group(
    page: Page, console: str, live_operator, server_gateway, screenshot
) -> None:
    for name in ("arthur", "ford"):
        server_gateway.create_user(name)

    sign_in(page, console)
    page.get_by_role("link", name="User groups").click()
    expect(page.get_by_role("heading", name="User groups (0)")).to_be_visible()
    page.get_by_role("link", name="Create group").click()

    name_field = page.get_by_label("User group name")
    name_field.fill("bad name!")
    page.get_by_role("button", name="Create user group").click()
    expect(page.get_by_test_id("name-error")).to_contain_text("The group name can have up to 128 characters.")
    assert server_gateway.list_groups() == []

    name_field.fill("Developers")
    picker = page.get_by_test_id("policy-picker")
    picker.get_by_label("Filter policies by Type").select_option("AWS managed - job function")
    picker.get_by_placeholder("Search policies by name").fill("bill")
    expect(picker.locator("[data-picker-where]")).to_have_text("Page 1 of 1 · 1 policy")
    expect(picker.locator("tbody tr")).to_have_count(1)
    picker.get_by_label("Billing", exact=True).check()
    expect(page.locator('[data-picker-count-for="id_policies"]')).to_have_text("1")
    screenshot("create-group")
    page.get_by_role("button", name="Create user group").click()

    expect(page.get_by_role("heading", name="Developers", exact=True)).to_be_visible()
    expect(page.get_by_text("User group Developers created.")).to_be_visible()
    assert [group.name for group in server_gateway.list_groups()] == ["Developers"]
    assert _policy_names(server_gateway, "Developers") == {"Billing"}

    page.get_by_role("link", name="Add users").click()
    page.get_by_placeholder("Filter users by name").fill("art")
    page.get_by_label("arthur", exact=True).check()
    page.get_by_role("button", name="Add users").click()
    expect(page.get_by_text("Users added to Developers: arthur.")).to_be_visible()
    expect(page.get_by_test_id("group-users").get_by_role("link", name="arthur")).to_be_visible()
    assert [group.name for group in server_gateway.list_groups_for_user("arthur")] == ["Developers"]
    assert server_gateway.list_groups_for_user("ford") == []

    page.get_by_role("link", name="Add permissions").click()
    picker = page.get_by_test_id("policy-picker")
    picker.get_by_label("Filter policies by Type").select_option("AWS managed - job function")
    picker.get_by_label("Search policies").fill("readonlyaccess")
    picker.get_by_label("Search policies").press("Enter")  # searches; it does not submit the form
    expect(picker.locator("[data-picker-where]")).to_have_text("Page 1 of 1 · 1 policy")
    expect(page.get_by_test_id("policies-error")).to_have_count(0)
    assert _policy_names(server_gateway, "Developers") == {"Billing"}
    picker.get_by_label("ReadOnlyAccess", exact=True).check()
    page.get_by_role("button", name="Attach policies").click()
    expect(page.get_by_text("Policies attached to Developers: ReadOnlyAccess.")).to_be_visible()
    assert _policy_names(server_gateway, "Developers") == {"Billing", "ReadOnlyAccess"}
    screenshot("group-details")

    page.get_by_test_id("group-permissions").get_by_role("link", name="ReadOnlyAccess").click()
    expect(page.get_by_test_id("arn")).to_have_text("arn:aws:iam::aws:policy/ReadOnlyAccess")
    expect(page.get_by_test_id("entities-table").get_by_role("row", name="Developers")).to_contain_text("Group")
    expect(page.get_by_test_id("policy-document")).to_contain_text('"Statement": [')
    screenshot("policy-details")
    page.go_back()

    page.get_by_test_id("delete-group").click()
    field = page.get_by_label("To confirm deletion, enter the user group name in the text input field.")
    field.fill("developers")
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_text("Enter Developers to confirm.")).to_be_visible()
    assert [group.name for group in server_gateway.list_groups()] == ["Developers"]

    field.fill("Developers")
    page.get_by_role("button", name="Delete").click()
    expect(page.locator('[data-group="Developers"][data-deleted="yes"]')).to_be_visible()
    expect(page.get_by_text("Member arthur")).to_be_visible()
    screenshot("deleted")
    assert server_gateway.list_groups() == []
    assert server_gateway.list_groups_for_user("arthur") == []
    assert {user.name for user in server_gateway.list_users()} == {"arthur", "ford"}

    page.get_by_role("link", name="Back to user groups").click()
    expect(page.get_by_role("heading", name="User groups (0)")).to_be_visible()
