"""Operator MFA in a real browser: enrolment with a code computed from the secret the page shows,
the OTP step at the next sign-in, a recovery code, and resetting another operator's MFA."""

from __future__ import annotations

from base64 import b32decode

import pytest
from django.contrib.auth.models import Group
from django_otp.oath import TOTP
from playwright.sync_api import Page, expect

from users.models import AuditEvent
from users.roles import OPERATORS

from .conftest import PASSWORD, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _code(secret: str, steps_ahead: int = 0) -> str:
    """The authenticator app's code for the secret shown as text (base32, in groups of four)."""
    return f"{TOTP(b32decode(secret.replace(' ', '')), drift=steps_ahead).token():06d}"


def _sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to IAM Console")).to_be_visible()


def test_it_enrols_and_then_asks_for_a_code_at_each_sign_in(
    page: Page, console: str, live_operator, settings, screenshot
) -> None:
    settings.OPERATOR_MFA = "required"
    sign_in(page, console)
    expect(page.get_by_role("heading", name="Set up multi-factor authentication")).to_be_visible()
    expect(page.get_by_test_id("mfa-qr").locator("svg")).to_be_visible()
    expect(page.get_by_role("link", name="Users", exact=True)).to_have_count(0)  # nothing but the OTP step
    screenshot("enrol")
    secret = page.get_by_test_id("mfa-secret").inner_text()

    page.get_by_label("MFA code").fill("000000" if _code(secret) != "000000" else "111111")
    page.get_by_role("button", name="Set up MFA").click()
    expect(page.get_by_text("That code is not valid.")).to_be_visible()
    assert page.get_by_test_id("mfa-secret").inner_text() == secret  # the same device
    # The wrong code started django-otp's 1-second throttle.
    page.wait_for_timeout(1100)

    page.get_by_label("MFA code").fill(_code(secret))
    page.get_by_role("button", name="Set up MFA").click()
    expect(page.get_by_role("heading", name="MFA is set up")).to_be_visible()
    codes = page.get_by_test_id("recovery-codes").locator("li").all_inner_texts()
    assert len(codes) == 10 and len(set(codes)) == 10
    screenshot("recovery-codes")
    page.get_by_role("link", name="Continue").click()
    expect(page.get_by_role("heading", name="IAM users (0)")).to_be_visible()
    assert AuditEvent.objects.filter(action="EnrolOperatorMfa", outcome="success").count() == 1

    _sign_out(page)
    sign_in(page, console)
    expect(page.get_by_role("heading", name="Multi-factor authentication")).to_be_visible()
    page.goto(f"{console}/groups/")
    expect(page).to_have_url(f"{console}/account/mfa/verify/?next=%2Fgroups%2F")
    screenshot("verify")
    # The code of this time step was used to enrol: the next one is the fresh code.
    page.get_by_label("MFA code").fill(_code(secret, steps_ahead=1))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="User groups (0)")).to_be_visible()
    page.get_by_role("link", name="Users", exact=True).click()
    expect(page.get_by_role("heading", name="IAM users (0)")).to_be_visible()

    _sign_out(page)
    sign_in(page, console)
    page.get_by_label("MFA code").fill(codes[0])
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="IAM users (0)")).to_be_visible()


def test_an_operator_resets_another_operators_mfa(
    page: Page, console: str, live_operator, django_user_model, screenshot
) -> None:
    carol = django_user_model.objects.create_user(username="carol", password=PASSWORD)
    carol.groups.add(Group.objects.get(name=OPERATORS))
    sign_in(page, console, "carol")
    page.get_by_role("link", name="MFA", exact=True).click()
    expect(page.get_by_test_id("mfa-status")).to_have_text("MFA is off for your account.")
    page.get_by_role("link", name="Set up MFA").click()
    page.get_by_label("MFA code").fill(_code(page.get_by_test_id("mfa-secret").inner_text()))
    page.get_by_role("button", name="Set up MFA").click()
    expect(page.get_by_role("heading", name="MFA is set up")).to_be_visible()
    _sign_out(page)

    sign_in(page, console)
    page.get_by_role("link", name="MFA", exact=True).click()
    page.get_by_role("link", name="Operators' MFA").click()
    page.get_by_role("button", name="Reset MFA for carol").click()
    expect(page.get_by_text("MFA reset for carol")).to_be_visible()
    expect(page.get_by_role("button", name="Reset MFA for carol")).to_have_count(0)
    screenshot("reset")
    assert AuditEvent.objects.filter(action="ResetOperatorMfa", target="carol").count() == 1
    _sign_out(page)

    sign_in(page, console, "carol")  # optional MFA and no device: straight in
    expect(page.get_by_role("heading", name="IAM users (0)")).to_be_visible()
