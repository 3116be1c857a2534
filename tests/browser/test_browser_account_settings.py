"""Account settings in a real browser: an operator edits the password policy; a viewer cannot."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import Page, expect

from users.roles import VIEWERS

from .conftest import PASSWORD, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_edits_the_password_policy(page: Page, console: str, live_operator, server_gateway, screenshot) -> None:
    sign_in(page, console)
    page.get_by_role("link", name="Account settings").click()
    expect(page.get_by_test_id("sign-in-url")).to_have_text("https://123456789012.signin.aws.amazon.com/console")
    screenshot("account-settings")

    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Custom").check()
    page.get_by_label("Password minimum length").fill("4")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("Ensure this value is greater than or equal to 6.")).to_be_visible()
    screenshot("password-policy-error")
    assert server_gateway.get_password_policy().is_default

    page.get_by_label("Password minimum length").fill("12")
    page.get_by_label("Require at least one number").check()
    page.get_by_label("Allow users to change their own password").check()
    page.get_by_role("button", name="Save changes").click()

    expect(page.get_by_text("Password policy updated.")).to_be_visible()
    expect(page.get_by_test_id("password-policy")).to_contain_text("Minimum password length is 12 characters")
    policy = server_gateway.get_password_policy()
    assert (policy.minimum_length, policy.require_numbers, policy.allow_users_to_change_password) == (12, True, True)


def test_it_gives_a_viewer_no_edit_button_and_a_403(page: Page, console: str, django_user_model) -> None:
    viewer = django_user_model.objects.create_user(username="bob", password=PASSWORD)
    viewer.groups.add(Group.objects.get(name=VIEWERS))
    sign_in(page, console, username="bob")
    page.goto(f"{console}/account/")
    expect(page.get_by_role("heading", name="Password policy")).to_be_visible()
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)
    response = page.goto(f"{console}/account/password-policy/")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="Access denied")).to_be_visible()
