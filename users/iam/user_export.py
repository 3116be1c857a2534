"""The users of the account as an import file sees them (Export users, users/imports.py):
each user's path, groups, attached managed policies, permissions boundary and tags, from one
paginated GetAccountAuthorizationDetails (one call per 1,000 users, never one per user).

A mixin of `IamGateway` (users/iam/gateway.py), which provides `_items`: the call is
translated and rate limited as the gateway's own, and only reads IAM. The result type is here
too; this module imports no boto3, so other modules may import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from users.iam.types import AttachedPolicy


@dataclass(frozen=True, slots=True)
class ExportedUser:
    """One user, with what an import file can say of it. No credential of any kind: whether
    the user has a password or access keys is not read."""

    name: str
    path: str
    groups: tuple[str, ...]
    policies: tuple[AttachedPolicy, ...]  # attached managed policies (inline ones have no column)
    permissions_boundary: str | None  # its ARN
    tags: tuple[tuple[str, str], ...]


class UserExportVerbs:
    """Every user with its groups, attached policies, boundary and tags, in one read."""

    if TYPE_CHECKING:  # provided by IamGateway

        def _items(self, operation: str, key: str, **params: Any) -> list[Any]: ...

    def exported_users(self) -> list[ExportedUser]:
        """All users, sorted by name regardless of case, read fresh (never cached: a file made
        from stale data would go to another account). Read-only: safe to call again."""
        users = self._items("GetAccountAuthorizationDetails", "UserDetailList", Filter=["User"])
        exported = [
            ExportedUser(
                name=user["UserName"],
                path=user["Path"],
                groups=tuple(sorted(user.get("GroupList", ()), key=str.casefold)),
                policies=tuple(
                    AttachedPolicy(policy["PolicyName"], policy["PolicyArn"])
                    for policy in user.get("AttachedManagedPolicies", ())
                ),
                permissions_boundary=user.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn"),
                tags=tuple((tag["Key"], tag["Value"]) for tag in user.get("Tags", ())),
            )
            for user in users
        ]
        return sorted(exported, key=lambda user: user.name.casefold())
