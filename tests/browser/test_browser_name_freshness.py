"""The Add user wizard checks user names against IAM itself at Review and at Create (issue 16):
a user made outside the console since step 1, which the users index cached for a minute does
not show yet, sends the admin back to step 1 with the error next to that name, nothing created."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.iam_clients import direct_client
from users.models import Job

from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TAKEN = "A user with this name already exists. User names are not case sensitive."


def next_step(page: Page) -> None:
    page.get_by_test_id("wizard-next").click()


def to_review(page: Page) -> None:
    """From step 1, valid, through Set permissions and Add tags to Review."""
    next_step(page)
    expect(page.get_by_role("heading", name="Set permissions")).to_be_visible()
    next_step(page)
    expect(page.get_by_role("heading", name="Add tags (optional)")).to_be_visible()
    next_step(page)


def test_a_name_taken_outside_the_console_sends_the_admin_back_to_its_field(
    page: Page, console: str, iam_server: str, live_operator, server_gateway, screenshot
) -> None:
    iam = direct_client(iam_server)
    sign_in(page, console)
    page.get_by_role("link", name="Add users").click()
    page.get_by_label("User name*").fill("arthur")
    page.locator("#add-another-user").click()
    ford = page.locator("#id_details-user_name_1")
    ford.fill("ford")
    page.get_by_label("Programmatic access").check()
    next_step(page)  # step 1 reads the users index: now cached
    expect(page.get_by_role("heading", name="Set permissions")).to_be_visible()

    iam.create_user(UserName="ford")  # elsewhere, seconds later
    assert "ford" not in {user.name for user in server_gateway.user_index()}
    next_step(page)
    next_step(page)  # to Review

    expect(page.get_by_role("heading", name="Set user details")).to_be_visible()
    expect(ford).to_have_class("form-control is-invalid")
    expect(page.locator(".invalid-feedback", has_text=TAKEN)).to_have_count(1)
    expect(page.get_by_label("User name*")).not_to_have_class("form-control is-invalid")
    screenshot("1-taken-at-review")

    ford.fill("ford-prefect")
    to_review(page)
    expect(page.get_by_role("heading", name="Review")).to_be_visible()
    expect(page.get_by_text("ford-prefect").first).to_be_visible()

    iam.create_user(UserName="arthur")  # elsewhere, while the admin reads the Review
    next_step(page)  # Create users

    expect(page.get_by_role("heading", name="Set user details")).to_be_visible()
    expect(page.get_by_label("User name*")).to_have_class("form-control is-invalid")
    expect(page.locator(".invalid-feedback", has_text=TAKEN)).to_have_count(1)
    screenshot("2-taken-at-create")
    assert Job.objects.count() == 0
    assert sorted(user["UserName"] for user in iam.list_users()["Users"]) == ["arthur", "ford"]
