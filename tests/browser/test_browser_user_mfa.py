"""A user's virtual MFA device in a real browser, against the moto server: the QR code drawn by
the console, assigning the device with codes computed from its seed, and Resync."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from users.iam.embedded.mfa import current_step, totp_code

from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _enter_codes(page: Page, seed: str) -> None:
    step = current_step()
    page.get_by_label("MFA code 1").fill(totp_code(seed, step - 1))
    page.get_by_label("MFA code 2").fill(totp_code(seed, step))


def test_it_assigns_a_device_from_its_qr_code_page_and_resyncs_it(
    page: Page, console: str, live_operator, server_gateway, screenshot
) -> None:
    server_gateway.create_user("arthur")
    sign_in(page, console)
    page.goto(f"{console}/users/details/arthur/?section=security_credentials")
    page.get_by_test_id("assign-mfa").click()
    page.get_by_label("Device name").fill("arthur-phone")
    page.get_by_role("button", name="Next").click()

    qr = page.get_by_test_id("mfa-qr").locator("svg")
    expect(qr).to_be_visible()
    assert qr.bounding_box()["width"] >= 100  # type: ignore[index]  # visible, so it has a box
    assert page.locator("img").count() == 0
    page.get_by_role("button", name="Show secret key").click()
    seed = page.get_by_test_id("secret").inner_text()
    assert len(seed) >= 16
    screenshot("qr-code")
    _enter_codes(page, seed)
    page.get_by_role("button", name="Add MFA").click()

    [device] = server_gateway.list_mfa_devices("arthur")
    expect(page.get_by_text(f"MFA device {device.serial_number} assigned.")).to_be_visible()
    page.get_by_test_id("mfa-table").get_by_role("link", name="Resync").click()
    expect(page.get_by_role("heading", name="Resync MFA device")).to_be_visible()
    page.get_by_label("MFA code 1").fill("000000")
    page.get_by_label("MFA code 2").fill("111111")
    page.get_by_role("button", name="Resync").click()
    expect(page.get_by_text("These codes do not match the device.")).to_be_visible()
    _enter_codes(page, seed)
    page.get_by_role("button", name="Resync").click()
    expect(page.get_by_text(f"MFA device {device.serial_number} resynced.")).to_be_visible()
    screenshot("resynced")
