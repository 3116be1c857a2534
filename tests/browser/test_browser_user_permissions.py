"""The Permissions tab's actions in a real browser: Add permissions, Create inline policy, Remove."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
DATABASE_ADMIN = "arn:aws:iam::aws:policy/job-function/DatabaseAdministrator"
GOOD_POLICY = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}'


def test_it_adds_creates_and_removes_permissions(
    page: Page, console: str, live_operator, server_gateway, screenshot
) -> None:
    server_gateway.create_user("arthur")
    server_gateway.create_group("dbas")
    server_gateway.attach_group_policy("dbas", DATABASE_ADMIN)
    server_gateway.add_user_to_group("dbas", "arthur")
    sign_in(page, console)
    page.goto(f"{console}/users/details/arthur/")
    table = page.get_by_test_id("permissions-table")
    expect(table.get_by_role("row", name="DatabaseAdministrator")).to_contain_text("Group dbas")

    # Add permissions → Attach policies directly → Review → Add permissions.
    page.get_by_test_id("add-permissions-menu").click()
    page.get_by_role("link", name="Add permissions", exact=True).click()
    expect(page.get_by_role("heading", name="Add permissions to arthur")).to_be_visible()
    page.get_by_label("Attach policies directly").check()
    picker = page.get_by_test_id("policy-picker")
    picker.get_by_label("Filter policies by Type").select_option("AWS managed - job function")
    picker.get_by_label("Search policies").fill("readonlyaccess")
    expect(picker.locator("[data-picker-where]")).to_have_text("Page 1 of 1 · 1 policy")
    picker.get_by_label("ReadOnlyAccess", exact=True).check()
    screenshot("add-permissions")
    page.get_by_role("button", name="Next", exact=True).click()
    expect(page.get_by_text("The following policies will be attached to this user.")).to_be_visible()
    expect(page.get_by_test_id("review-permissions")).to_contain_text("ReadOnlyAccess")
    screenshot("review")
    page.get_by_role("button", name="Add permissions").click()
    expect(page.get_by_text("Permissions added to arthur: policy ReadOnlyAccess.")).to_be_visible()
    expect(table.get_by_role("row", name="ReadOnlyAccess")).to_contain_text("Directly")

    # Create inline policy: a bad JSON first, then a good one.
    page.get_by_test_id("add-permissions-menu").click()
    page.get_by_role("link", name="Create inline policy").click()
    page.get_by_label("Policy name").fill("s3-all")
    page.get_by_label("Policy editor").fill('{\n  "Version": "2012-10-17",\n  "Statement": [\n}')
    page.get_by_role("button", name="Create policy").click()
    expect(page.get_by_test_id("document-error")).to_have_text(
        "The policy is not valid JSON: Expecting value (line 4, column 1)."
    )
    screenshot("inline-policy-error")
    assert server_gateway.list_user_policy_names("arthur") == []
    page.get_by_label("Policy editor").fill(GOOD_POLICY)
    page.get_by_role("button", name="Create policy").click()
    expect(page.get_by_text("Policy s3-all created.")).to_be_visible()
    expect(table.get_by_role("row", name="s3-all")).to_contain_text("Customer inline")

    # Remove the group's policy: the user leaves the group.
    page.get_by_label("Select DatabaseAdministrator (Group dbas)").check()
    page.get_by_test_id("remove-policy").click()
    expect(page.get_by_role("heading", name="Remove policy for user?")).to_be_visible()
    expect(page.get_by_test_id("group-policies")).to_have_text("DatabaseAdministrator")
    screenshot("remove-group-policy")
    page.get_by_role("button", name="Remove policy").click()
    expect(page.get_by_text("arthur was removed from group dbas.")).to_be_visible()
    expect(table.get_by_role("row", name="DatabaseAdministrator")).to_have_count(0)
    screenshot("permissions")

    assert [policy.arn for policy in server_gateway.list_attached_user_policies("arthur")] == [READ_ONLY]
    assert server_gateway.get_user_policy_document("arthur", "s3-all")["Statement"][0]["Action"] == "s3:*"
    assert server_gateway.list_groups_for_user("arthur") == []
