"""ResyncMFADevice for the embedded backend: moto does not implement it. Installed by
`users.iam.embedded.fidelity.apply_moto_extensions`.

For a virtual device, the two codes are checked against the device's seed with TOTP (RFC 6238:
HMAC-SHA1, 30-second steps, 6 digits), as an authenticator app computes them: they must be the
codes of two consecutive steps, the second within one step of now, which is IAM's behaviour
loosely (IAM looks further for a drifted hardware token). Wrong codes answer
InvalidAuthenticationCode, as IAM does; nothing is kept, since moto keeps no drift. A hardware
token has no seed moto knows: its codes are accepted as moto's EnableMFADevice accepts any.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import time

from moto.core.responses import EmptyResult
from moto.iam.exceptions import IAMException, NotFoundException
from moto.iam.responses import IamResponse

STEP_SECONDS = 30
DIGITS = 6


class InvalidAuthenticationCode(IAMException):
    code = "InvalidAuthenticationCode"


def totp_code(seed: str, step: int) -> str:
    """The code an authenticator app shows for the Base32 `seed` during time step `step`."""
    key = base64.b32decode(seed + "=" * (-len(seed) % 8))
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**DIGITS).zfill(DIGITS)


def current_step() -> int:
    return int(time.time()) // STEP_SECONDS


def codes_match(seed: str, code_1: str, code_2: str, *, now: int | None = None) -> bool:
    """Whether the codes are those of two consecutive steps, the second within ±1 step of `now`."""
    now = current_step() if now is None else now
    return any(
        hmac.compare_digest(totp_code(seed, step - 1), code_1) and hmac.compare_digest(totp_code(seed, step), code_2)
        for step in (now - 1, now, now + 1)
    )


def resync(self: IamResponse) -> EmptyResult:
    user = self.backend.get_user(self._get_param("UserName"))
    serial = self._get_param("SerialNumber")
    if serial not in user.mfa_devices:
        raise NotFoundException(f"MFA device {serial} is not assigned to {user.name}.")
    device = self.backend.virtual_mfa_devices.get(serial)
    code_1, code_2 = self._get_param("AuthenticationCode1"), self._get_param("AuthenticationCode2")
    if device is not None and not codes_match(device.base32_string_seed, code_1, code_2):
        raise InvalidAuthenticationCode("Authentication code for device is not valid.")
    return EmptyResult()


def install() -> None:
    # Adding an action to moto's class is this module's purpose: mypy cannot see it (attr-defined).
    IamResponse.resync_mfa_device = resync  # type: ignore[attr-defined]
