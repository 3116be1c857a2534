"""A user's MFA devices beyond assign and remove: the QR code of a new virtual device, drawn by the
console (never IAM's image), and Resync with two consecutive codes (ResyncMFADevice, which the
embedded backend checks against the device's seed)."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from iamconsole import qr
from tests.test_deletion import _raw
from users.iam.embedded.mfa import codes_match, current_step, totp_code
from users.iam.types import AccountInfo
from users.models import AuditEvent
from users.views.mfa import otpauth_uri

pytestmark = pytest.mark.django_db


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]] if response.context else []


def _codes_page(client: Client, name: str = "arthur") -> tuple[str, str]:
    """Assign MFA device, step 1; the codes page's URL and HTML."""
    response = client.post(reverse("users:mfa_device_assign", args=[name]), {"device_name": f"{name}-phone"})
    assert response.status_code == 302
    url = response.headers["Location"]
    return url, client.get(url).content.decode()


def _seed(html: str) -> str:
    match = re.search(r'data-secret="([A-Z2-7]+)"', html)
    assert match is not None
    return match.group(1)


def _two_codes(seed: str) -> dict[str, str]:
    """Two consecutive codes, as the app shows them: the previous step's and this one's."""
    step = current_step()
    return {"code_1": totp_code(seed, step - 1), "code_2": totp_code(seed, step)}


def _assigned(client: Client, name: str = "arthur") -> tuple[str, str]:
    """A virtual device assigned through the console with codes from its seed: (serial, seed)."""
    url, html = _codes_page(client, name)
    seed = _seed(html)
    response = client.post(url, _two_codes(seed))
    assert response.status_code == 302, response.content.decode()[-1500:]
    serial = re.search(r"Device (arn:aws:iam::\d+:mfa/[\w+=,.@-]+)", html)
    assert serial is not None
    return serial.group(1), seed


def _audit_text() -> str:
    return json.dumps(list(AuditEvent.objects.values()), default=str)


# --- The QR code -----------------------------------------------------------------------------


def test_the_otpauth_uri_is_as_iams() -> None:
    account = AccountInfo("123456789012", None)
    assert otpauth_uri("ABCD", user_name="arthur", account=account) == (
        "otpauth://totp/Amazon%20Web%20Services:arthur@123456789012?secret=ABCD&issuer=Amazon%20Web%20Services"
    )
    aliased = otpauth_uri("ABCD", user_name="a+b=c", account=AccountInfo("123456789012", "acme"))
    assert aliased.startswith("otpauth://totp/Amazon%20Web%20Services:a%2Bb%3Dc@acme?secret=ABCD&")


def test_the_codes_page_draws_the_qr_code_of_the_seed_and_offers_the_secret_key(iam, operator_client) -> None:
    iam.create_user("arthur")
    _raw(iam).create_account_alias(AccountAlias="acme")
    _, html = _codes_page(operator_client)
    seed = _seed(html)
    expected = qr.draw(otpauth_uri(seed, user_name="arthur", account=AccountInfo("123456789012", "acme")))
    drawn = html.split('data-testid="mfa-qr">')[1].split("</div>")[0]
    assert drawn.startswith("<svg ") and f'viewBox="0 0 {expected.size} {expected.size}"' in drawn
    assert f'd="{expected.path}"' in drawn
    assert "<img" not in html and "data:image" not in html  # nothing from IAM, nothing from elsewhere
    assert 'aria-label="Show secret key"' in html
    assert seed not in _audit_text()


# --- Resync ----------------------------------------------------------------------------------


def test_totp_codes_match_only_consecutive_steps_near_now() -> None:
    seed = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    now = 1_000_000
    code = {step: totp_code(seed, step) for step in range(now - 4, now + 4)}
    assert code[now] != code[now - 1]
    assert codes_match(seed, code[now - 1], code[now], now=now)
    assert codes_match(seed, code[now - 2], code[now - 1], now=now)  # the app's clock a step behind
    assert codes_match(seed, code[now], code[now + 1], now=now)  # a step ahead
    assert not codes_match(seed, code[now], code[now - 1], now=now)  # not in order
    assert not codes_match(seed, code[now - 3], code[now - 2], now=now)  # too far
    assert not codes_match(seed, code[now - 1], code[now + 1], now=now)  # not consecutive


def test_it_resyncs_a_device_with_two_consecutive_codes(iam, operator_client) -> None:
    iam.create_user("arthur")
    serial, seed = _assigned(operator_client)
    tab = operator_client.get(reverse("users:detail", args=["arthur"]) + "?section=security_credentials")
    resync = reverse("users:mfa_device_resync", args=["arthur"])
    assert f'href="{resync}?serial=' in tab.content.decode()

    page = operator_client.get(resync, {"serial": serial})
    assert page.status_code == 200 and serial in page.content.decode() and "MFA code 2" in page.content.decode()
    assert not AuditEvent.objects.filter(action="ResyncMFADevice").exists()

    codes = _two_codes(seed)
    done = operator_client.post(resync, {"serial": serial, **codes}, follow=True)
    assert f"MFA device {serial} resynced." in _messages(done)
    event = AuditEvent.objects.get(action="ResyncMFADevice")
    assert (event.outcome, event.target) == (AuditEvent.Outcome.SUCCESS, "arthur")
    assert event.parameters["AuthenticationCode1"] == "***" == event.parameters["AuthenticationCode2"]
    assert codes["code_1"] not in _audit_text() and codes["code_2"] not in _audit_text()


def test_wrong_codes_are_refused_next_to_the_field(iam, operator_client) -> None:
    iam.create_user("arthur")
    serial, seed = _assigned(operator_client)
    resync = reverse("users:mfa_device_resync", args=["arthur"])
    codes = _two_codes(seed)
    swapped = {"code_1": codes["code_2"], "code_2": codes["code_1"]}
    response = operator_client.post(resync, {"serial": serial, **swapped})
    assert response.status_code == 400
    html = response.content.decode()
    assert "These codes do not match the device. Enter two consecutive codes it shows now." in html
    failed = AuditEvent.objects.get(action="ResyncMFADevice")
    assert (failed.outcome, failed.error_code) == (AuditEvent.Outcome.FAILURE, "InvalidAuthenticationCode")

    short = operator_client.post(resync, {"serial": serial, "code_1": "12345", "code_2": "123456"})
    assert short.status_code == 400 and "Enter the 6 digits the app shows." in short.content.decode()
    assert AuditEvent.objects.filter(action="ResyncMFADevice").count() == 1  # not sent to IAM


def test_resync_of_an_unknown_device_is_404_and_a_viewer_gets_403(iam, operator_client, viewer_client) -> None:
    iam.create_user("arthur")
    serial, seed = _assigned(operator_client)
    resync = reverse("users:mfa_device_resync", args=["arthur"])
    assert operator_client.get(resync, {"serial": "arn:aws:iam::123456789012:mfa/other"}).status_code == 404
    assert viewer_client.post(resync, {"serial": serial, **_two_codes(seed)}).status_code == 403
    assert not AuditEvent.objects.filter(action="ResyncMFADevice").exists()
