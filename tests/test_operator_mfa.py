"""Operator MFA (django-otp): the OTP step gates password-only sessions, enrolment, TOTP and
recovery codes, throttling of wrong codes, and resetting another operator's devices."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.db import connection
from django.db.models import F
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from users.models import AuditEvent
from users.operator_auth import mfa as operator_mfa
from users.roles import OPERATORS

pytestmark = pytest.mark.django_db

VERIFY = "/account/mfa/verify/"
ENROL = "/account/mfa/enrol/"


def _code(device: TOTPDevice, steps_ahead: int = 0) -> str:
    return f"{totp(device.bin_key, step=device.step, digits=device.digits, drift=steps_ahead):06d}"


def _device(user: User) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def _password_only(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _console_urls() -> Iterator[str]:
    """Every named URL of the console (the OTP step's own pages aside), with sample arguments."""

    def patterns(resolver: URLResolver, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                yield from patterns(entry, f"{prefix}{entry.namespace}:" if entry.namespace else prefix)
            elif entry.name:
                yield prefix + entry.name, entry

    samples = {"UUIDConverter": uuid.uuid4(), "IntConverter": 1}
    for name, pattern in patterns(get_resolver()):
        kwargs = {key: samples.get(type(conv).__name__, "arthur") for key, conv in pattern.pattern.converters.items()}
        try:
            url = reverse(name, kwargs=kwargs)
        except NoReverseMatch:
            continue
        if url not in {VERIFY, ENROL, "/logout/"}:
            yield url


def test_it_sends_a_password_only_session_to_the_otp_step_from_every_page(operator: User) -> None:
    _device(operator)
    client = _password_only(operator)
    urls = [*_console_urls(), "/admin/", "/users/?q=x"]
    assert {"/users/", "/account/", "/account/mfa/operators/", "/login/"} <= set(urls)
    assert any(url.endswith("/progress/") for url in urls)  # a JSON endpoint
    for url in urls:
        for method in (client.get, client.post):
            response = method(url)
            assert response.status_code == 302, url
            assert response["Location"].startswith(VERIFY), url
    assert client.get("/users/?q=x")["Location"] == VERIFY + "?next=%2Fusers%2F%3Fq%3Dx"


def test_it_sends_an_operator_without_a_device_to_enrolment_when_mfa_is_required(operator: User, settings) -> None:
    settings.OPERATOR_MFA = "required"
    client = _password_only(operator)
    assert client.get("/users/")["Location"] == ENROL + "?next=%2Fusers%2F"
    assert client.get("/jobs/").status_code == 302
    enrol = client.get(ENROL)
    assert enrol.status_code == 200
    assert b"backend-badge" not in enrol.content and b'href="/users/"' not in enrol.content  # no console frame
    assert client.get(VERIFY)["Location"] == "/account/mfa/enrol/"


def test_it_lets_an_operator_without_a_device_in_when_mfa_is_optional(operator_client: Client) -> None:
    assert operator_client.get("/account/mfa/").status_code == 200
    assert b"MFA is off for your account" in operator_client.get("/account/mfa/").content


def test_a_session_without_a_device_asks_again_once_a_minute_not_on_every_page(
    operator: User, operator_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert operator_client.get("/jobs/").status_code == 200  # found no device
    with CaptureQueriesContext(connection) as queries:
        assert operator_client.get("/jobs/").status_code == 200
    assert not [query for query in queries if "otp_" in query["sql"]]

    _device(operator)  # set up in another session
    later = timezone.now() + timedelta(seconds=61)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert operator_client.get("/jobs/")["Location"].startswith(VERIFY)


def test_it_enrols_an_operator_with_a_code_from_the_shown_secret(operator: User, operator_client: Client) -> None:
    page = operator_client.get(ENROL).content.decode()
    device = TOTPDevice.objects.get(user=operator, confirmed=False)
    secret = operator_mfa.secret_text(device)
    assert secret in page and "<svg" in page
    qr = page.split('data-testid="mfa-qr">')[1].split("</div>")[0]
    assert "style=" not in qr  # the CSP allows no inline style
    assert f'd="{operator_mfa.qr_code(device).path}"' in qr
    assert operator_client.get(ENROL).content.decode().count(secret) == 1  # a reload keeps the secret

    wrong = operator_client.post(ENROL, {"code": "000000" if _code(device) != "000000" else "111111"})
    assert wrong.status_code == 200 and b"not valid" in wrong.content
    assert AuditEvent.objects.get(action="EnrolOperatorMfa").outcome == "failure"
    device.throttle_reset()

    response = operator_client.post(ENROL, {"code": _code(device)})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    codes = set(StaticToken.objects.filter(device__user=operator).values_list("token", flat=True))
    assert len(codes) == 10 and all(code in response.content.decode() for code in codes)
    assert TOTPDevice.objects.get(user=operator).confirmed
    assert operator_client.session[DEVICE_ID_SESSION_KEY] == TOTPDevice.objects.get(user=operator).persistent_id
    event = AuditEvent.objects.get(action="EnrolOperatorMfa", outcome="success")
    assert (event.operator_name, event.target, event.outcome) == ("alice", "alice", "success")
    assert secret.replace(" ", "") not in str(event.parameters)
    assert operator_client.get(ENROL)["Location"] == "/account/mfa/"  # once only


def test_it_verifies_a_totp_code_and_follows_next(operator: User) -> None:
    device = _device(operator)
    client = _password_only(operator)
    response = client.post(VERIFY, {"code": _code(device), "next": "/account/mfa/"})
    assert response["Location"] == "/account/mfa/"
    assert client.get("/account/mfa/").status_code == 200


def test_it_never_follows_next_to_another_host(operator: User) -> None:
    device = _device(operator)
    response = _password_only(operator).post(VERIFY, {"code": _code(device), "next": "https://evil.example/"})
    assert response["Location"] == "/users/"


def test_it_throttles_wrong_codes_and_refuses_even_the_right_one(operator: User) -> None:
    device = _device(operator)
    client = _password_only(operator)
    right = _code(device)
    wrong = "123456" if right != "123456" else "654321"
    devices = TOTPDevice.objects.filter(pk=device.pk)
    for _ in range(6):
        assert b"not valid" in client.post(VERIFY, {"code": wrong}).content
        # Let the throttle's delay pass, so that each wrong code counts.
        devices.update(throttling_failure_timestamp=F("throttling_failure_timestamp") - timedelta(hours=1))
    assert devices.get().throttling_failure_count == 6
    assert b"not valid" in client.post(VERIFY, {"code": wrong}).content  # the 7th: 64 seconds to wait
    refused = client.post(VERIFY, {"code": right})
    assert b"Too many wrong codes. Try again in" in refused.content
    assert DEVICE_ID_SESSION_KEY not in client.session
    assert devices.get().throttling_failure_count == 7
    assert AuditEvent.objects.filter(action="VerifyOperatorMfa", outcome="failure", target="alice").count() == 8

    devices.update(throttling_failure_timestamp=F("throttling_failure_timestamp") - timedelta(minutes=2))
    assert client.post(VERIFY, {"code": right})["Location"] == "/users/"
    device.refresh_from_db()
    assert device.throttling_failure_count == 0


def test_it_accepts_a_recovery_code_once(operator: User) -> None:
    _device(operator)
    code = operator_mfa.new_recovery_codes(operator)[0]
    first = _password_only(operator)
    assert first.post(VERIFY, {"code": code.upper()})["Location"] == "/users/"
    assert DEVICE_ID_SESSION_KEY in first.session
    second = _password_only(operator)
    assert second.post(VERIFY, {"code": code}).status_code == 200
    assert DEVICE_ID_SESSION_KEY not in second.session
    assert StaticToken.objects.filter(device__user=operator).count() == 9


@pytest.fixture
def carol(django_user_model: type[User]) -> User:
    carol = django_user_model.objects.create_user("carol", password="correct horse battery staple")
    carol.groups.add(Group.objects.get(name=OPERATORS))
    _device(carol)
    operator_mfa.new_recovery_codes(carol)
    return carol


def test_an_operator_resets_another_operators_mfa(operator: User, operator_client: Client, carol: User) -> None:
    page = operator_client.get("/account/mfa/operators/")
    assert b"Reset MFA for carol" in page.content
    assert operator_client.get(f"/account/mfa/operators/{carol.pk}/reset/").status_code == 405
    response = operator_client.post(f"/account/mfa/operators/{carol.pk}/reset/")
    assert response["Location"] == "/account/mfa/operators/"
    assert not TOTPDevice.objects.filter(user=carol).exists()
    assert not StaticDevice.objects.filter(user=carol).exists()
    event = AuditEvent.objects.get(action="ResetOperatorMfa")
    assert (event.operator_name, event.target, event.outcome) == ("alice", "carol", "success")
    # Carol's next sign-in leads to enrolment when MFA is required.
    assert operator_mfa.has_device(carol) is False


def test_a_viewer_cannot_reset_mfa(viewer_client: Client, carol: User) -> None:
    assert viewer_client.get("/account/mfa/operators/").status_code == 403
    assert viewer_client.post(f"/account/mfa/operators/{carol.pk}/reset/").status_code == 403
    assert TOTPDevice.objects.filter(user=carol).exists()
    assert not AuditEvent.objects.filter(action="ResetOperatorMfa").exists()


def test_an_operator_cannot_reset_their_own_mfa(operator: User) -> None:
    device = _device(operator)
    client = _password_only(operator)
    client.post(VERIFY, {"code": _code(device)})
    client.post(f"/account/mfa/operators/{operator.pk}/reset/")
    assert TOTPDevice.objects.filter(user=operator).exists()


@pytest.mark.parametrize(("backend", "expected"), [("aws", "required"), ("embedded", "optional")])
def test_operator_mfa_defaults_to_required_only_against_aws(backend: str, expected: str, tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "OPERATOR_MFA"}
    env.update(IAM_BACKEND=backend, IAMCONSOLE_STATE_DIR=str(tmp_path))
    script = "import iamconsole.settings as s; print(s.OPERATOR_MFA)"
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-c", script], env=env, cwd=root, capture_output=True, text=True)
    assert result.stdout.strip() == expected, result.stderr


@pytest.mark.parametrize("mode", ["required", "optional"])
def test_the_first_operator_is_told_when_mfa_is_required(mode: str, settings, capsys) -> None:
    settings.OPERATOR_MFA = mode
    call_command("ensure_operator")
    assert ("the first sign-in sets up an authenticator app" in capsys.readouterr().out) == (mode == "required")
