"""Service-specific credentials (HTTPS Git for CodeCommit, Amazon Keyspaces...) for the
embedded backend: moto implements none of their actions. Installed by
`users.iam.embedded.fidelity.apply_moto_extensions`.

Kept on the account's IAM backend (so in its snapshot): Create (at most 2 per service and user,
LimitExceeded beyond), List, Update (Active/Inactive), Reset (a new password) and Delete, and
DeleteUser refuses a user who still has some (DeleteConflict), as IAM does. The password is
returned by Create and Reset only, and not kept.
"""

from __future__ import annotations

import secrets
import string
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypedDict, cast

from moto.core.responses import ActionResult, EmptyResult
from moto.iam.exceptions import DeleteConflictException, LimitExceededException, NoSuchEntity
from moto.iam.models import IAMBackend
from moto.iam.responses import IamResponse

MAX_PER_SERVICE = 2
_ID_CHARACTERS = string.ascii_uppercase + string.digits

_moto_delete_user = IAMBackend.delete_user


class _Credential(TypedDict):
    """A credential as kept (in the snapshot too) and listed; without its password."""

    CreateDate: datetime
    ServiceName: str
    ServiceUserName: str
    ServiceSpecificCredentialId: str
    UserName: str
    Status: str


if TYPE_CHECKING:

    class _BackendWithCredentials(IAMBackend):
        """moto's IAM backend with this module's store (see `_store`)."""

        service_specific_credentials: dict[str, list[_Credential]]


def _store(backend: IAMBackend) -> dict[str, list[_Credential]]:
    """The account's credentials by user name (created on first use: older snapshots lack it)."""
    extended = cast("_BackendWithCredentials", backend)
    if not hasattr(extended, "service_specific_credentials"):
        extended.service_specific_credentials = {}
    return extended.service_specific_credentials


def _password() -> str:
    return secrets.token_urlsafe(30)


def _find(backend: IAMBackend, user_name: str, credential_id: str) -> _Credential:
    user = backend.get_user(user_name)
    for credential in _store(backend).get(user.name, []):
        if credential["ServiceSpecificCredentialId"] == credential_id:
            return credential
    raise NoSuchEntity(f"No such credential {credential_id}")


def create(self: IamResponse) -> ActionResult:
    user = self.backend.get_user(self._get_param("UserName"))
    service = self._get_param("ServiceName")
    credentials = _store(self.backend).setdefault(user.name, [])
    if sum(1 for c in credentials if c["ServiceName"] == service) >= MAX_PER_SERVICE:
        raise LimitExceededException(
            f"Cannot exceed quota for ServiceSpecificCredentialsPerUserPerService: {MAX_PER_SERVICE}"
        )
    credential: _Credential = {
        "CreateDate": datetime.now(UTC),
        "ServiceName": service,
        "ServiceUserName": f"{user.name}-at-{self.backend.account_id}",
        "ServiceSpecificCredentialId": "ACCA" + "".join(secrets.choice(_ID_CHARACTERS) for _ in range(17)),
        "UserName": user.name,
        "Status": "Active",
    }
    credentials.append(credential)
    return ActionResult({"ServiceSpecificCredential": {**credential, "ServicePassword": _password()}})


def list_(self: IamResponse) -> ActionResult:
    user = self.backend.get_user(self._get_param("UserName"))
    service = self._get_param("ServiceName")
    found = [c for c in _store(self.backend).get(user.name, []) if not service or c["ServiceName"] == service]
    return ActionResult({"ServiceSpecificCredentials": found})


def update(self: IamResponse) -> EmptyResult:
    credential = _find(self.backend, self._get_param("UserName"), self._get_param("ServiceSpecificCredentialId"))
    credential["Status"] = self._get_param("Status")
    return EmptyResult()


def reset(self: IamResponse) -> ActionResult:
    credential = _find(self.backend, self._get_param("UserName"), self._get_param("ServiceSpecificCredentialId"))
    return ActionResult({"ServiceSpecificCredential": {**credential, "ServicePassword": _password()}})


def delete(self: IamResponse) -> EmptyResult:
    credential = _find(self.backend, self._get_param("UserName"), self._get_param("ServiceSpecificCredentialId"))
    _store(self.backend)[credential["UserName"]].remove(credential)
    return EmptyResult()


def delete_user(self: IAMBackend, user_name: str) -> None:
    """IAM refuses to delete a user who still has service-specific credentials."""
    if _store(self).get(user_name):
        raise DeleteConflictException("Cannot delete entity, must remove service specific credentials first.")
    _moto_delete_user(self, user_name)
    _store(self).pop(user_name, None)


def install() -> None:
    # Patching moto's classes in place is this module's purpose: mypy cannot see the actions
    # added (attr-defined) and forbids assigning to a method (method-assign).
    IamResponse.create_service_specific_credential = create  # type: ignore[attr-defined]
    IamResponse.list_service_specific_credentials = list_  # type: ignore[attr-defined]
    IamResponse.update_service_specific_credential = update  # type: ignore[attr-defined]
    IamResponse.reset_service_specific_credential = reset  # type: ignore[attr-defined]
    IamResponse.delete_service_specific_credential = delete  # type: ignore[attr-defined]
    IAMBackend.delete_user = delete_user  # type: ignore[method-assign]
