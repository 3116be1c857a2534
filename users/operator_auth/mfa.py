"""Operator MFA with django-otp: a TOTP device per operator, plus single-use recovery codes.

A signed-in session that has not passed the OTP step is "pending": users/middleware.py lets
it reach only the OTP step (verify, or enrol when `OPERATOR_MFA=required`) and sign-out.
Both kinds of device throttle failed codes (django-otp's exponential delay, kept in the
database, so signing in again does not reset it).
"""

from __future__ import annotations

import re
from base64 import b32encode
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django_otp import user_has_device
from django_otp import verify_token as otp_verify_token
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from iamconsole import qr

if TYPE_CHECKING:
    from django.contrib.auth.models import User

RECOVERY_CODES = 10
NO_DEVICE_CHECKED_AT = "operator_mfa_no_device_at"  # session key: when the operator last had no device
# Session key: the operator whose sign-in at the identity provider was with MFA (its amr / acr, as
# OIDC_MFA_AMR / OIDC_MFA_ACR count it; users/views/sign_in.py): that sign-in passes the OTP step.
IDP_MFA = "operator_mfa_at_idp"
_OIDC_BACKEND = "users.oidc.backend.OidcBackend"
TOTP_CODE = re.compile(r"\d{6}")


def pending_step(request: HttpRequest) -> Literal["verify", "enrol"] | None:
    """The OTP step this session must pass before anything else, or None."""
    user: Any = request.user
    if not user.is_authenticated or user.is_verified() or _mfa_at_idp(request, user):
        return None
    if _has_device(request, user):
        return "verify"
    return "enrol" if settings.OPERATOR_MFA == "required" else None


def _mfa_at_idp(request: HttpRequest, user: Any) -> bool:
    """Whether this session's operator signed in at the identity provider, with MFA there."""
    session = request.session
    return session.get(IDP_MFA) == user.pk and session.get(BACKEND_SESSION_KEY) == _OIDC_BACKEND


def _has_device(request: HttpRequest, user: Any) -> bool:
    """Whether the operator has a confirmed device. A "no" is kept in the session for
    SESSION_TOUCH_SECONDS (every page asks, twice: the middleware and the page's context),
    so a device set up meanwhile in another session is asked for from then on."""
    now = int(timezone.now().timestamp())  # Django's clock, as the session's touch
    checked_at = request.session.get(NO_DEVICE_CHECKED_AT)
    if isinstance(checked_at, int) and 0 <= now - checked_at < settings.SESSION_TOUCH_SECONDS:
        return False
    if user_has_device(user):
        request.session.pop(NO_DEVICE_CHECKED_AT, None)
        return True
    request.session[NO_DEVICE_CHECKED_AT] = now
    return False


def has_device(user: User) -> bool:
    return bool(user_has_device(user))


def enrolled_user_ids() -> set[int]:
    """The operators with a confirmed device."""
    ids: set[int] = set()
    for model in (TOTPDevice, StaticDevice):
        ids.update(model.objects.filter(confirmed=True).values_list("user_id", flat=True))
    return ids


def pending_device(user: User) -> Any:
    """The operator's unconfirmed TOTP device, created on first use (a reload keeps its secret)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    return device or TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


def secret_text(device: Any) -> str:
    """The device's key in base32, in groups of four, for typing into an authenticator app."""
    secret = b32encode(device.bin_key).decode()
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def qr_code(device: Any) -> qr.QrCode:
    """The device's otpauth:// URI as a QR code, drawn here (no network)."""
    return qr.draw(device.config_url)


@dataclass(frozen=True)
class Attempt:
    """The outcome of a code: the device that accepted it, or how long to wait (seconds)."""

    device: Any = None
    wait: int = 0


def _wait(device: Any) -> int:
    """Seconds until the device's throttle lets a code through again (0: now)."""
    allowed, details = device.verify_is_allowed()
    if allowed:
        return 0
    locked_until = (details or {}).get("locked_until")
    return max(1, int((locked_until - timezone.now()).total_seconds()) + 1) if locked_until else 1


def _try(user: User, device: Any, code: str) -> Attempt:
    wait = _wait(device)
    if wait:
        return Attempt(wait=wait)
    if otp_verify_token(user, device.persistent_id, code) is not None:
        return Attempt(device=device)
    return Attempt()


def confirm_enrolment(user: User, device: Any, code: str) -> Attempt:
    """Check the first code of a new (unconfirmed) device; on success confirm it."""
    with transaction.atomic():
        locked = TOTPDevice.objects.select_for_update().get(pk=device.pk, user=user, confirmed=False)
        wait = _wait(locked)
        if wait:
            return Attempt(wait=wait)
        if not locked.verify_token(code):
            return Attempt()
        locked.confirmed = True
        locked.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return Attempt(device=locked)


def new_recovery_codes(user: User) -> list[str]:
    """Replace the operator's recovery codes with RECOVERY_CODES new single-use ones."""
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    with transaction.atomic():
        StaticDevice.objects.filter(user=user).delete()
        device = StaticDevice.objects.create(user=user, name="Recovery codes", confirmed=True)
        StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def verify(user: User, code: str) -> Attempt:
    """Check a code against the operator's devices: a 6-digit code against the TOTP device,
    anything else against the recovery codes (a matching one is consumed)."""
    model = TOTPDevice if TOTP_CODE.fullmatch(code) else StaticDevice
    wait = 0
    for device in model.objects.devices_for_user(user, confirmed=True):
        attempt = _try(user, device, code)
        if attempt.device is not None:
            return attempt
        wait = max(wait, attempt.wait)
    return Attempt(wait=wait)


def remove_devices(user: User) -> None:
    """Delete all of an operator's devices: the TOTP device and the recovery codes."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
