"""What the gateway returns: frozen dataclasses of plain values, never boto3 response dicts.

Also the console's policy types and the credential report's parser. No boto3 here: forms,
validators and views that only need a type import this module.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any

# The console lists these AWS managed policies as job functions although their path is "/"
# (FEATURES.md §3C): the type is a fixed list, not derived from the ARN.
JOB_FUNCTION_POLICIES_AT_ROOT = frozenset({"AdministratorAccess", "PowerUserAccess", "ReadOnlyAccess", "SecurityAudit"})
AWS_MANAGED_ARN_PART = ":iam::aws:policy/"
SERVICE_ROLE_POLICY_PATH = "/aws-service-role/"


def policy_type(arn: str, name: str) -> str:
    """The console's "Type" of a managed policy: AWS managed (job function or not) or
    customer managed, from its ARN (`arn:aws:iam::aws:policy/job-function/Billing`)."""
    if AWS_MANAGED_ARN_PART not in arn:
        return "Customer managed"
    job_function = "/job-function/" in arn or name in JOB_FUNCTION_POLICIES_AT_ROOT
    return "AWS managed - job function" if job_function else "AWS managed"


def as_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class IamUser:
    name: str
    user_id: str
    arn: str
    path: str
    created: datetime
    permissions_boundary_arn: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    password_last_used: datetime | None = None  # the last console sign-in, if any

    @classmethod
    def from_api(cls, user: Mapping[str, Any]) -> IamUser:
        return cls(
            name=user["UserName"],
            user_id=user["UserId"],
            arn=user["Arn"],
            path=user["Path"],
            created=as_utc(user["CreateDate"]),
            permissions_boundary_arn=user.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn"),
            tags=tuple((tag["Key"], tag["Value"]) for tag in user.get("Tags", ())),
            password_last_used=as_utc(user["PasswordLastUsed"]) if user.get("PasswordLastUsed") else None,
        )


@dataclass(frozen=True, slots=True)
class UserSummary:
    """One row of the users list."""

    name: str
    user_id: str
    arn: str
    path: str
    created: datetime
    groups: tuple[str, ...]
    policies: tuple[str, ...] = ()  # attached managed, then inline


@dataclass(frozen=True, slots=True)
class GroupSummary:
    """One row of a groups table, and what the group gives its members: its attached managed
    policies and its inline policies' names."""

    name: str
    arn: str
    created: datetime
    attached: tuple[AttachedPolicy, ...] = ()
    inline_policies: tuple[str, ...] = ()

    @property
    def policies(self) -> tuple[str, ...]:
        """The attached policies' names."""
        return tuple(policy.name for policy in self.attached)


@dataclass(frozen=True, slots=True)
class AccessKey:
    access_key_id: str
    status: str
    created: datetime


@dataclass(frozen=True, slots=True)
class AccessKeyLastUsed:
    used_at: datetime | None  # None: never used
    region: str | None
    service: str | None


@dataclass(frozen=True, slots=True)
class NewAccessKey:
    user_name: str
    access_key_id: str
    secret_access_key: str = field(repr=False)
    status: str
    created: datetime


@dataclass(frozen=True, slots=True)
class SshPublicKey:
    """An SSH public key for AWS CodeCommit (the body is read with GetSSHPublicKey)."""

    key_id: str
    status: str
    uploaded: datetime


@dataclass(frozen=True, slots=True)
class SigningCertificate:
    certificate_id: str
    status: str
    uploaded: datetime


# The services whose credentials the Security credentials tab generates (FEATURES.md §4F).
CODECOMMIT_SERVICE = "codecommit.amazonaws.com"
KEYSPACES_SERVICE = "cassandra.amazonaws.com"


@dataclass(frozen=True, slots=True)
class ServiceSpecificCredential:
    """HTTPS Git (CodeCommit), Amazon Keyspaces or Bedrock credentials; the password is shown
    only when created or reset."""

    credential_id: str
    service_name: str
    service_user_name: str
    status: str
    created: datetime


@dataclass(frozen=True, slots=True)
class NewServiceSpecificCredential:
    """A credential just created or reset: its password exists only here (IAM shows it once)."""

    credential: ServiceSpecificCredential
    service_password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class MfaDevice:
    serial_number: str
    enabled: datetime

    @property
    def is_virtual(self) -> bool:
        """A virtual device's serial number is its ARN (`arn:aws:iam::…:mfa/name`); a
        hardware token's is the device's own serial."""
        return self.serial_number.startswith("arn:")

    @property
    def shows_codes(self) -> bool:
        """A virtual or hardware TOTP device, which Resync applies to; not a passkey or
        security key (`arn:aws:iam::…:u2f/…`)."""
        return ":u2f/" not in self.serial_number


@dataclass(frozen=True, slots=True)
class NewVirtualMfaDevice:
    serial_number: str
    seed: str = field(repr=False)  # Base32, for an authenticator app: a secret (its QR code is drawn locally)


@dataclass(frozen=True, slots=True)
class LoginProfile:
    user_name: str
    created: datetime
    password_reset_required: bool

    @classmethod
    def from_api(cls, profile: Mapping[str, Any]) -> LoginProfile:
        reset_required = profile.get("PasswordResetRequired", False)
        return cls(profile["UserName"], as_utc(profile["CreateDate"]), reset_required)


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    group_id: str
    arn: str
    path: str
    created: datetime

    @classmethod
    def from_api(cls, group: Mapping[str, Any]) -> Group:
        return cls(group["GroupName"], group["GroupId"], group["Arn"], group["Path"], as_utc(group["CreateDate"]))


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    arn: str
    path: str
    attachment_count: int
    boundary_usage_count: int
    description: str  # real IAM gives it with GetPolicy only, not with ListPolicies
    default_version_id: str
    created: datetime | None = None
    updated: datetime | None = None

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> Policy:
        """A policy from ListPolicies or GetPolicy."""
        return cls(
            name=item["PolicyName"],
            arn=item["Arn"],
            path=item["Path"],
            attachment_count=item.get("AttachmentCount", 0),
            boundary_usage_count=item.get("PermissionsBoundaryUsageCount", 0),
            description=item.get("Description", ""),
            default_version_id=item.get("DefaultVersionId", ""),
            created=as_utc(item["CreateDate"]) if item.get("CreateDate") else None,
            updated=as_utc(item["UpdateDate"]) if item.get("UpdateDate") else None,
        )

    @property
    def is_aws_managed(self) -> bool:
        return AWS_MANAGED_ARN_PART in self.arn

    @property
    def is_attachable(self) -> bool:
        """Whether a user or group may have it attached: IAM refuses the AWS managed policies
        of service-linked roles (PolicyNotAttachable)."""
        return not (self.is_aws_managed and self.path.startswith(SERVICE_ROLE_POLICY_PATH))

    @property
    def policy_type(self) -> str:
        """The console's "Type" column."""
        return policy_type(self.arn, self.name)


@dataclass(frozen=True, slots=True)
class AttachedPolicy:
    name: str
    arn: str

    @property
    def policy_type(self) -> str:
        """The console's "Type" column, from the ARN alone (as `Policy.policy_type`)."""
        return policy_type(self.arn, self.name)


@dataclass(frozen=True, slots=True)
class InlinePolicy:
    name: str
    document: str | dict[str, Any]


@dataclass(frozen=True, slots=True)
class PolicyEntities:
    """The names of the users, groups and roles a managed policy is attached to."""

    users: tuple[str, ...]
    groups: tuple[str, ...]
    roles: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    minimum_length: int = 8
    require_symbols: bool = False
    require_numbers: bool = False
    require_uppercase: bool = False
    require_lowercase: bool = False
    allow_users_to_change_password: bool = False
    max_password_age: int | None = None
    password_reuse_prevention: int | None = None
    hard_expiry: bool = False
    is_default: bool = False
    # IAM's default (no policy set) has no per-type flags but wants 3 of the 4 character types.
    requires_three_of_four: bool = False

    @classmethod
    def iam_default(cls) -> PasswordPolicy:
        """What IAM enforces when the account has no password policy."""
        return cls(is_default=True, requires_three_of_four=True)


@dataclass(frozen=True, slots=True)
class AccountInfo:
    account_id: str
    alias: str | None
    caller_arn: str = ""  # who the console's credentials are (GetCallerIdentity's Arn)

    @property
    def sign_in_url(self) -> str:
        return f"https://{self.alias or self.account_id}.signin.aws.amazon.com/console"


@dataclass(frozen=True, slots=True)
class ReportedAccessKey:
    """An access key as the credential report shows it (the report has no key ids)."""

    active: bool
    last_rotated: datetime | None  # created or last changed
    last_used: datetime | None


@dataclass(frozen=True, slots=True)
class UserCredentials:
    """One user's line of the credential report."""

    name: str
    password_enabled: bool
    password_last_used: datetime | None  # None: never used (or no password)
    password_last_changed: datetime | None
    mfa_active: bool
    access_keys: tuple[ReportedAccessKey, ...]

    @property
    def last_activity(self) -> datetime | None:
        """The latest console sign-in or access key use, if any."""
        moments = [self.password_last_used, *(key.last_used for key in self.access_keys)]
        return max((moment for moment in moments if moment), default=None)


@dataclass(frozen=True, slots=True)
class CredentialReport:
    """IAM's credential report: the users' passwords, MFA and access keys, by user name.

    Real IAM makes a new report at most every four hours, so users created since are missing.
    moto 5.2.5 builds it afresh at each GetCredentialReport; the embedded backend writes its
    lines and generation time as IAM does (users/iam/embedded/report.py). Still unlike IAM: an
    access key's last use is only recorded for requests signed with it (never in `mock_aws`
    tests), with no region or service; no `<root_account>` line."""

    generated: datetime
    users: Mapping[str, UserCredentials]


def _report_time(value: str) -> datetime | None:
    """A credential report date, or None for its "N/A", "no_information", "not_supported"."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=moment.tzinfo or UTC).astimezone(UTC)


def _reported_keys(line: Mapping[str, str]) -> tuple[ReportedAccessKey, ...]:
    keys = (
        ReportedAccessKey(
            active=line[f"access_key_{n}_active"].lower() == "true",
            last_rotated=_report_time(line[f"access_key_{n}_last_rotated"]),
            last_used=_report_time(line[f"access_key_{n}_last_used_date"]),
        )
        for n in (1, 2)
    )
    return tuple(key for key in keys if key.active or key.last_rotated or key.last_used)


def parse_credential_report(content: bytes, generated: datetime) -> CredentialReport:
    users = {}
    for line in csv.DictReader(io.StringIO(content.decode("utf-8"))):
        if line["user"] == "<root_account>":
            continue
        password_enabled = line["password_enabled"].lower() == "true"
        users[line["user"]] = UserCredentials(
            name=line["user"],
            password_enabled=password_enabled,
            password_last_used=_report_time(line["password_last_used"]) if password_enabled else None,
            password_last_changed=_report_time(line["password_last_changed"]) if password_enabled else None,
            mfa_active=line["mfa_active"].lower() == "true",
            access_keys=_reported_keys(line),
        )
    return CredentialReport(generated=as_utc(generated), users=users)


def _pickle_by_fields(cls: type) -> None:
    """Pickle instances of `cls` as a call of `cls` with its fields' values. The default for a
    frozen slotted dataclass, a `__setstate__` that looks up `fields()` for every object, was a
    quarter of the users list's CPU: the cached indexes hold thousands of these."""
    names = [item.name for item in fields(cls)]
    get_values = attrgetter(*names)

    def reduce(self: object) -> tuple[type, tuple[Any, ...]]:
        values = get_values(self)
        return cls, values if len(names) > 1 else (values,)

    cls.__reduce__ = reduce  # type: ignore[assignment,method-assign]


for _cls in [value for value in list(globals().values()) if isinstance(value, type) and is_dataclass(value)]:
    _pickle_by_fields(_cls)
del _cls
