"""moto, extended where it departs from IAM's documented behaviour in ways the console's
workflows depend on.

The extensions: permissions boundaries on users (CreateUser, Put/DeleteUserPermissionsBoundary,
GetUser), CreateLoginProfile's PasswordResetRequired, UpdateLoginProfile changing only what it
names, service-linked roles' policies refused to users and groups, user and group names
unique regardless of case, DeleteGroup refused while the group has members or policies,
service-specific credentials (users/iam/embedded/credentials.py), ResyncMFADevice checking the
codes against the device's seed (users/iam/embedded/mfa.py), a credential report as IAM
writes it (users/iam/embedded/report.py), service last accessed data
(users/iam/embedded/access_advisor.py), DuplicateSSHPublicKey (users/iam/embedded/ssh_keys.py),
and GetAccountAuthorizationDetails answering whole while other requests create users (moto
serialised live views of its dicts). Lookups (GetUser and the rest) stay exact-match as in
moto: the console only ever looks users up by the name IAM gave back, so it never depends on
IAM's case-insensitive lookup.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, cast

import moto
import moto.iam.models
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult, EmptyResult
from moto.core.serialize import never_return
from moto.core.utils import utcnow
from moto.iam.exceptions import (
    DeleteConflictException,
    EntityAlreadyExists,
    IAMException,
    InvalidInput,
    NoSuchEntity,
)
from moto.iam.models import Group, IAMBackend, User, iam_backends
from moto.iam.responses import IamResponse

from users.iam.embedded import access_advisor as embedded_access_advisor
from users.iam.embedded import credentials as embedded_credentials
from users.iam.embedded import mfa as embedded_mfa
from users.iam.embedded import report as embedded_report
from users.iam.embedded import ssh_keys as embedded_ssh_keys

if TYPE_CHECKING:
    from datetime import datetime

    class _ExtendedUser(User):
        """A moto user with the attributes the extensions below give it."""

        permissions_boundary_arn: str | None
        password_last_changed: datetime  # read by users/iam/embedded/report.py

    class _ExtendedBackend(IAMBackend):
        """moto's IAM backend with the extensions below, as the responses below call it."""

        def create_user(
            self,
            region_name: str,
            user_name: str,
            path: str = "/",
            tags: list[dict[str, str]] | None = None,
            permissions_boundary: str | None = None,
        ) -> User: ...

        def create_login_profile(
            self, user_name: str, password: str, password_reset_required: bool = False
        ) -> User: ...

        def put_user_permissions_boundary(self, user_name: str, permissions_boundary: str) -> None: ...

        def delete_user_permissions_boundary(self, user_name: str) -> None: ...


_moto_create_user = IAMBackend.create_user
_moto_update_user = IAMBackend.update_user
_moto_create_login_profile = IAMBackend.create_login_profile
_moto_attach_user_policy = IAMBackend.attach_user_policy
_moto_create_group = IAMBackend.create_group
_moto_delete_group = IAMBackend.delete_group
_moto_get_account_authorization_details = IAMBackend.get_account_authorization_details
_moto_attach_group_policy = IAMBackend.attach_group_policy
_applied = False
# The server answers in several threads: a name check and the creation it allows must not
# interleave with another's, or `alice` and `Alice` could both be created.
_NAMES_LOCK = threading.RLock()


class PolicyNotAttachable(IAMException):
    code = "PolicyNotAttachable"


def _refuse_service_role_policy(arn: str, entity: str) -> None:
    """IAM never attaches a service-linked role's AWS managed policy to a user or group."""
    if arn.startswith("arn:aws:iam::aws:policy/aws-service-role/"):
        raise PolicyNotAttachable(f"Cannot attach a Service Role Policy to a {entity}.")


def _attach_user_policy(self: IAMBackend, policy_arn: str, user_name: str) -> None:
    _refuse_service_role_policy(policy_arn, "User")
    _moto_attach_user_policy(self, policy_arn, user_name)


def _attach_group_policy(self: IAMBackend, policy_arn: str, group_name: str) -> None:
    _refuse_service_role_policy(policy_arn, "Group")
    _moto_attach_group_policy(self, policy_arn, group_name)


def _create_group(self: IAMBackend, group_name: str, path: str = "/") -> Group:
    """IAM group names are unique regardless of case, as user names are (moto's are not)."""
    with _NAMES_LOCK:
        folded = group_name.casefold()
        if any(name.casefold() == folded for name in list(self.groups)):
            raise EntityAlreadyExists(f"Group with name {group_name} already exists.")
        return _moto_create_group(self, group_name, path)


def _delete_group(self: IAMBackend, group_name: str) -> None:
    """IAM refuses to delete a group that still has members or policies (moto deletes it)."""
    group = self.get_group(group_name)
    if group.users:
        raise DeleteConflictException("Cannot delete entity, must remove users from group first.")
    if group.managed_policies:
        raise DeleteConflictException("Cannot delete entity, must detach all policies first.")
    if group.policies:
        raise DeleteConflictException("Cannot delete entity, must delete policies first.")
    _moto_delete_group(self, group_name)


def _check_boundary(backend: IAMBackend, arn: str) -> None:
    """IAM rejects a malformed boundary ARN (InvalidInput) and an unknown policy (NoSuchEntity)."""
    if not backend.policy_arn_regex.match(arn):
        raise InvalidInput(f"Value ({arn}) for parameter PermissionsBoundary is invalid.")
    if arn not in backend.managed_policies:
        raise NoSuchEntity(f"Scope ARN: {arn} does not exist or is not attachable.")


def _check_name_free(backend: IAMBackend, user_name: str, renamed: str | None = None) -> None:
    """IAM user names are unique regardless of case (a user may be renamed to its own name)."""
    folded = user_name.casefold()
    if any(name.casefold() == folded and name != renamed for name in list(backend.users)):
        raise EntityAlreadyExists(f"User with name {user_name} already exists.")


def _user_permissions_boundary(self: _ExtendedUser) -> dict[str, str] | None:
    """IAM shows a user's boundary in CreateUser, GetUser and GetAccountAuthorizationDetails."""
    if not self.permissions_boundary_arn:
        return None
    return {
        "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
        "PermissionsBoundaryArn": self.permissions_boundary_arn,
    }


def _create_user(
    self: IAMBackend,
    region_name: str,
    user_name: str,
    path: str = "/",
    tags: list[dict[str, str]] | None = None,
    permissions_boundary: str | None = None,
) -> User:
    """IAM refuses a name taken in another case and stores the boundary given to CreateUser."""
    if permissions_boundary:
        _check_boundary(self, permissions_boundary)
    with _NAMES_LOCK:
        _check_name_free(self, user_name)
        user = cast("_ExtendedUser", _moto_create_user(self, region_name, user_name, path, tags))
    user.permissions_boundary_arn = permissions_boundary or None
    return user


def _update_user(
    self: IAMBackend, user_name: str, new_path: str | None = None, new_user_name: str | None = None
) -> None:
    """IAM refuses to rename a user onto another user's name, in any case (moto overwrites it)."""
    with _NAMES_LOCK:
        if new_user_name and user_name in self.users:
            _check_name_free(self, new_user_name, renamed=user_name)
        _moto_update_user(self, user_name, new_path, new_user_name)


def _put_user_permissions_boundary(self: IAMBackend, user_name: str, permissions_boundary: str) -> None:
    """IAM's PutUserPermissionsBoundary (moto lacks it)."""
    user = cast("_ExtendedUser", self.get_user(user_name))
    _check_boundary(self, permissions_boundary)
    user.permissions_boundary_arn = permissions_boundary


def _delete_user_permissions_boundary(self: IAMBackend, user_name: str) -> None:
    """IAM's DeleteUserPermissionsBoundary (moto lacks it)."""
    cast("_ExtendedUser", self.get_user(user_name)).permissions_boundary_arn = None


def _create_login_profile(
    self: IAMBackend, user_name: str, password: str, password_reset_required: bool = False
) -> User:
    """IAM stores CreateLoginProfile's PasswordResetRequired (moto always stores False)."""
    user = cast("_ExtendedUser", _moto_create_login_profile(self, user_name, password))
    user.password_reset_required = bool(password_reset_required)
    user.password_last_changed = utcnow()  # for the credential report (users/iam/embedded/report.py)
    return user


def _update_login_profile(
    self: IAMBackend, user_name: str, password: str | None, password_reset_required: bool | None
) -> User:
    """IAM changes only what UpdateLoginProfile names: moto deletes the password when only the
    reset flag is sent, and clears the flag when only the password is."""
    user = cast("_ExtendedUser", self.get_user(user_name))
    if not user.password:
        raise NoSuchEntity(f"Login profile for {user_name} not found")
    if password is not None:
        user.password = password
        user.password_last_changed = utcnow()
    if password_reset_required is not None:
        user.password_reset_required = bool(password_reset_required)
    return user


def _get_account_authorization_details(self: IAMBackend, policy_filter: list[str]) -> dict[str, Any]:
    """Lists, not moto's live views of its dicts: the answer is serialised after this returns,
    while other threads may create users ("dictionary changed size during iteration")."""
    details = _moto_get_account_authorization_details(self, policy_filter)
    return {kind: list(entities) for kind, entities in details.items()}


def _backend(response: IamResponse) -> _ExtendedBackend:
    """The response's backend, as extended by `apply_moto_extensions` (before any request)."""
    return cast("_ExtendedBackend", response.backend)


def _respond_create_user(self: IamResponse) -> ActionResult:
    """CreateUser passing PermissionsBoundary on to the backend (moto drops it)."""
    user = _backend(self).create_user(
        self.region,
        user_name=self._get_param("UserName"),
        path=self._get_param("Path"),
        tags=self._get_param("Tags", []),
        permissions_boundary=self._get_param("PermissionsBoundary"),
    )
    return ActionResult({"User": user})


def _respond_create_login_profile(self: IamResponse) -> ActionResult:
    """CreateLoginProfile passing PasswordResetRequired on to the backend (moto drops it)."""
    user = _backend(self).create_login_profile(
        self._get_param("UserName"),
        self._get_param("Password"),
        password_reset_required=self._get_param("PasswordResetRequired", False),
    )
    profile = {
        "UserName": user.name,
        "CreateDate": user.create_date,
        "PasswordResetRequired": user.password_reset_required,
    }
    return ActionResult({"LoginProfile": profile})


def _respond_put_user_permissions_boundary(self: IamResponse) -> EmptyResult:
    """IAM's PutUserPermissionsBoundary action."""
    _backend(self).put_user_permissions_boundary(self._get_param("UserName"), self._get_param("PermissionsBoundary"))
    return EmptyResult()


def _respond_delete_user_permissions_boundary(self: IamResponse) -> EmptyResult:
    """IAM's DeleteUserPermissionsBoundary action."""
    _backend(self).delete_user_permissions_boundary(self._get_param("UserName"))
    return EmptyResult()


def _get_account_id_from(access_key: str) -> str:
    """moto's lookup of an access key's account, without first building an IAM backend (with
    ~1,580 managed policies) in each of the six partitions: same answer, a sixth of the work."""
    for account_id, backends in list(iam_backends.items()):
        if any(access_key in backend.access_keys for backend in list(backends.values())):
            return account_id
    return DEFAULT_ACCOUNT_ID


def apply_moto_extensions() -> None:
    """Patch moto's IAM classes, process-wide and once, with the patches above."""
    global _applied
    if _applied:
        return
    # Patching moto's classes in place is this module's purpose: mypy forbids assigning to a
    # method (method-assign) and cannot see the attributes and actions added (attr-defined).
    User.permissions_boundary_arn = None  # type: ignore[attr-defined]  # users created before the patch have none
    User.permissions_boundary = property(_user_permissions_boundary)  # type: ignore[attr-defined]
    IAMBackend.create_user = _create_user  # type: ignore[method-assign]
    IAMBackend.update_user = _update_user  # type: ignore[method-assign]
    IAMBackend.put_user_permissions_boundary = _put_user_permissions_boundary  # type: ignore[attr-defined]
    IAMBackend.delete_user_permissions_boundary = _delete_user_permissions_boundary  # type: ignore[attr-defined]
    IAMBackend.create_login_profile = _create_login_profile  # type: ignore[method-assign]
    IAMBackend.update_login_profile = _update_login_profile  # type: ignore[method-assign]
    IAMBackend.attach_user_policy = _attach_user_policy  # type: ignore[method-assign]
    IAMBackend.attach_group_policy = _attach_group_policy  # type: ignore[method-assign]
    IAMBackend.create_group = _create_group  # type: ignore[method-assign]
    IAMBackend.delete_group = _delete_group  # type: ignore[method-assign]
    IAMBackend.get_account_authorization_details = _get_account_authorization_details  # type: ignore[method-assign]
    IamResponse.create_user = _respond_create_user  # type: ignore[method-assign]
    IamResponse.create_login_profile = _respond_create_login_profile  # type: ignore[method-assign]
    IamResponse.put_user_permissions_boundary = _respond_put_user_permissions_boundary  # type: ignore[attr-defined]
    IamResponse.delete_user_permissions_boundary = _respond_delete_user_permissions_boundary  # type: ignore[attr-defined]
    embedded_credentials.install()
    embedded_mfa.install()
    embedded_report.install()
    embedded_ssh_keys.install()
    embedded_access_advisor.install()
    # ListUsers, like ListRoles, leaves the boundary out of its items.
    transformers = IamResponse.RESPONSE_KEY_PATH_TO_TRANSFORMER
    transformers["ListUsersResponse.Users.User.PermissionsBoundary"] = never_return
    moto.iam.models.get_account_id_from = _get_account_id_from  # read on every request
    _applied = True
