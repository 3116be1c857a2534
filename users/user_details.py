"""What the user details page shows (FEATURES.md §4B-4F), read through the gateway with a
bounded number of calls: the summary in at most 7, each tab in at most 4 more, whatever the
number of groups, policies or keys (a group's policies come from one cached
GetAccountAuthorizationDetails, not one call per group).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from users.iam.gateway import IamGateway
from users.iam.types import (
    CODECOMMIT_SERVICE,
    KEYSPACES_SERVICE,
    AccessKey,
    AccessKeyLastUsed,
    Group,
    GroupSummary,
    IamUser,
    LoginProfile,
    MfaDevice,
    ServiceSpecificCredential,
    SigningCertificate,
    SshPublicKey,
)

SECTIONS = {
    "permissions": "Permissions",
    "groups": "Groups",
    "tags": "Tags",
    "security_credentials": "Security credentials",
    "last_accessed": "Last Accessed",
}
DEFAULT_SECTION = "permissions"
INLINE = "Customer inline"
POLICY_TYPES = ("AWS managed", "AWS managed - job function", "Customer managed", INLINE)


@dataclass(frozen=True, slots=True)
class KeyInfo:
    key: AccessKey
    last_used: AccessKeyLastUsed
    description: str | None  # the console keeps it as a user tag keyed by the key's id


@dataclass(frozen=True, slots=True)
class UserDetails:
    """The header and Summary, and what every tab needs (the Groups tab's count is in its label)."""

    user: IamUser
    login_profile: LoginProfile | None
    keys: list[KeyInfo]
    mfa_devices: list[MfaDevice]
    groups: list[Group]

    @property
    def console_access(self) -> str:
        """The console's wording: Disabled, Enabled without MFA, or Enabled."""
        if self.login_profile is None:
            return "Disabled"
        return "Enabled" if self.mfa_devices else "Enabled without MFA"

    @property
    def last_console_sign_in(self) -> datetime | str:
        if self.user.password_last_used:
            return self.user.password_last_used
        return "Never" if self.login_profile else "None"

    @property
    def key_ids(self) -> set[str]:
        return {info.key.access_key_id for info in self.keys}


def read_details(gateway: IamGateway, name: str) -> UserDetails:
    """The user and its summary (NoSuchEntity if there is no such user): 5 to 7 calls."""
    user = gateway.get_user(name)
    tags = dict(user.tags)
    keys = [
        KeyInfo(key, gateway.access_key_last_used(key.access_key_id), tags.get(key.access_key_id))
        for key in gateway.list_access_keys(name)
    ]
    return UserDetails(
        user=user,
        login_profile=gateway.get_login_profile(name),
        keys=keys,
        mfa_devices=gateway.list_mfa_devices(name),
        groups=gateway.list_groups_for_user(name),
    )


# --- Permissions tab -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PermissionRow:
    """One row of "Permissions policies": a managed policy (`arn`) or an inline one."""

    name: str
    policy_type: str
    attached_via: str  # "Directly", "Inline" or "Group <name>"
    arn: str | None = None
    group: str | None = None

    @property
    def key(self) -> str:
        """What identifies the row in a URL (?show=, a removal): the ARN, or the inline
        policy's name, prefixed with its group's for a group's inline policy."""
        if self.arn:
            return self.arn
        return f"group:{self.group}:{self.name}" if self.group else f"inline:{self.name}"


def groups_by_name(gateway: IamGateway) -> dict[str, GroupSummary]:
    """Every group with what it gives its members, from the cached group index (one
    GetAccountAuthorizationDetails, not one call per group)."""
    return {group.name: group for group in gateway.group_index()}


def permission_rows(gateway: IamGateway, details: UserDetails) -> list[PermissionRow]:
    """Policies attached directly, inline, and through each group (2 calls, plus one cached
    read of all groups' policies when the user is in a group)."""
    name = details.user.name
    rows = [
        PermissionRow(policy.name, policy.policy_type, "Directly", arn=policy.arn)
        for policy in gateway.list_attached_user_policies(name)
    ]
    rows += [PermissionRow(policy, INLINE, "Inline") for policy in gateway.list_user_policy_names(name)]
    by_group = groups_by_name(gateway) if details.groups else {}
    for group in details.groups:
        summary = by_group.get(group.name)
        if summary is None:
            continue
        via = f"Group {group.name}"
        rows += [
            PermissionRow(policy.name, policy.policy_type, via, arn=policy.arn, group=group.name)
            for policy in summary.attached
        ]
        rows += [PermissionRow(policy, INLINE, via, group=group.name) for policy in summary.inline_policies]
    return sorted(rows, key=lambda row: (row.name.casefold(), row.attached_via))


def filter_rows(rows: list[PermissionRow], *, policy_type: str, query: str) -> list[PermissionRow]:
    needle = query.casefold()
    return [
        row
        for row in rows
        if (not policy_type or row.policy_type == policy_type) and (not needle or needle in row.name.casefold())
    ]


# --- Groups tab ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupRow:
    group: Group
    attached_policies: tuple[str, ...]


def group_rows(gateway: IamGateway, details: UserDetails) -> list[GroupRow]:
    """The user's groups with their attached policies' names (one cached read)."""
    by_group = groups_by_name(gateway) if details.groups else {}
    rows = []
    for group in details.groups:
        summary = by_group.get(group.name)
        rows.append(GroupRow(group, summary.policies if summary else ()))
    return sorted(rows, key=lambda row: row.group.name.casefold())


# --- Tags tab --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TagRow:
    key: str
    value: str
    describes_access_key: bool  # the console's access-key description: key = the key's id


def tag_rows(details: UserDetails) -> list[TagRow]:
    key_ids = details.key_ids
    return [TagRow(key, value, key in key_ids) for key, value in details.user.tags]


# --- Security credentials tab ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SecurityCredentials:
    ssh_public_keys: list[SshPublicKey]
    signing_certificates: list[SigningCertificate]
    service_specific_credentials: list[ServiceSpecificCredential]

    @property
    def git_credentials(self) -> list[ServiceSpecificCredential]:
        """HTTPS Git credentials for AWS CodeCommit: the tab's own section."""
        return [c for c in self.service_specific_credentials if c.service_name == CODECOMMIT_SERVICE]

    @property
    def keyspaces_credentials(self) -> list[ServiceSpecificCredential]:
        """Credentials for Amazon Keyspaces: the tab's own section."""
        return [c for c in self.service_specific_credentials if c.service_name == KEYSPACES_SERVICE]

    @property
    def other_service_credentials(self) -> list[ServiceSpecificCredential]:
        """Those of other services (Bedrock API keys …), listed apart."""
        own = (CODECOMMIT_SERVICE, KEYSPACES_SERVICE)
        return [c for c in self.service_specific_credentials if c.service_name not in own]


def security_credentials(gateway: IamGateway, details: UserDetails) -> SecurityCredentials:
    """What the summary does not already hold: 3 calls."""
    name = details.user.name
    return SecurityCredentials(
        ssh_public_keys=gateway.list_ssh_public_keys(name),
        signing_certificates=gateway.list_signing_certificates(name),
        service_specific_credentials=gateway.list_service_specific_credentials(name),
    )
