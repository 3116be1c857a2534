"""IAM's credential report for the embedded backend, written as IAM writes it. Installed by
`users.iam.embedded.fidelity.apply_moto_extensions`.

moto's report has a fixed generation time (2015-02-02), gives each user's creation time as
`password_last_changed` whether or not the user has a password, and writes "not_supported"
where IAM writes "N/A": the users list would show a user's age as its password's. Here the
report says when it was generated, when each password was set (`User.password_last_changed`,
kept by users/iam/embedded/fidelity.py's login-profile extensions) and "N/A" for what does not apply.
It is also written from a copy of the users, so that it answers while users are being created.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, cast

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.iam.exceptions import ReportNotPresentException
from moto.iam.models import IAMBackend, User
from moto.iam.responses import IamResponse

DATE_FORMAT = "%Y-%m-%dT%H:%M:%S+00:00"
HEADER = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
    "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
    "access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,"
    "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
    "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,"
    "cert_1_last_rotated,cert_2_active,cert_2_last_rotated\n"
)

_moto_generate_report = IAMBackend.generate_report

if TYPE_CHECKING:

    class _BackendWithReportTime(IAMBackend):
        """moto's IAM backend with the generation time `generate_report` below keeps."""

        credential_report_generated_at: datetime


class _Formattable(Protocol):
    """A datetime, or moto's AccessKeyLastUsed (which formats its timestamp)."""

    def strftime(self, date_format: str, /) -> str: ...


def _date(value: _Formattable | None) -> str:
    return value.strftime(DATE_FORMAT) if value else "N/A"


def _pair(items: list[Any], date: str) -> list[tuple[bool, str]]:
    """(active, its date) for the first two items, as the report's `_1_` and `_2_` columns."""
    found = [(item.status == "Active", _date(getattr(item, date))) for item in items[:2]]
    return found + [(False, "N/A")] * (2 - len(found))


def user_line(self: User) -> str:
    has_password = bool(self.password)
    used = _date(self.password_last_used) if self.password_last_used else "no_information"
    fields = [
        self.name,
        self.arn,
        _date(self.create_date),
        "true" if has_password else "false",
        used if has_password else "N/A",
        _date(getattr(self, "password_last_changed", None)) if has_password else "N/A",
        "N/A",  # password_next_rotation: no expiry policy here
        "true" if self.mfa_devices else "false",
    ]
    keys = list(self.access_keys)
    for index, (active, rotated) in enumerate(_pair(keys, "create_date")):
        last_used = keys[index].last_used if index < len(keys) else None
        fields += ["true" if active else "false", rotated, _date(last_used), "N/A", "N/A"]
    for active, uploaded in _pair(list(self.signing_certificates.values()), "upload_date"):
        fields += ["true" if active else "false", uploaded]
    return ",".join(fields) + "\n"


def generate_report(self: IAMBackend) -> None:
    _moto_generate_report(self)
    cast("_BackendWithReportTime", self).credential_report_generated_at = utcnow()


def read_report(self: IAMBackend) -> str:
    """moto's report, written from a copy of the users: moto iterated its live dict, which a
    request creating or deleting a user meanwhile changed ("dictionary changed size during
    iteration", a 500)."""
    if not self.credential_report:
        raise ReportNotPresentException("Credential report not present")
    return HEADER + "".join(user.to_csv() for user in list(self.users.values()))


def get_credential_report(self: IamResponse) -> ActionResult:
    generated = getattr(self.backend, "credential_report_generated_at", None) or utcnow()
    return ActionResult(
        {
            "Content": self.backend.get_credential_report(),
            "ReportFormat": "text/csv",
            "GeneratedTime": generated.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    )


def install() -> None:
    # Patching moto's classes in place is this module's purpose: mypy forbids assigning to a
    # method (method-assign).
    User.to_csv = user_line  # type: ignore[method-assign]
    IAMBackend.generate_report = generate_report  # type: ignore[method-assign]
    IAMBackend.get_credential_report = read_report  # type: ignore[method-assign]
    IamResponse.get_credential_report = get_credential_report  # type: ignore[method-assign]
