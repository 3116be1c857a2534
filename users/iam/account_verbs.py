"""The account alias, as IAM verbs: create, delete, and change (an account has at most one).

A mixin of `IamGateway` (users/iam/gateway.py), which provides `_call` and
`forget_account_info`: every call here is translated, audited and refused when IAM_READ_ONLY
as the gateway's own, and each one drops the cached account info, so that every page's frame
shows the new alias at once (even after a failure: the change may have half-happened).
"""

from __future__ import annotations

from contextlib import suppress
from typing import TYPE_CHECKING, Any

from users.iam.errors import IamError, NoSuchEntity

if TYPE_CHECKING:
    from botocore.client import BaseClient


class AliasChangeFailed(Exception):
    """IAM refused the new alias after the old one was deleted. `error` is IAM's refusal;
    `restored` says whether the old alias was created again."""

    def __init__(self, error: IamError, *, restored: bool) -> None:
        super().__init__(str(error))
        self.error, self.restored = error, restored


class AccountVerbs:
    """The account's alias."""

    if TYPE_CHECKING:  # provided by IamGateway

        def _call(self, operation: str, *, client: BaseClient | None = None, **params: Any) -> dict[str, Any]: ...

        def forget_account_info(self) -> None: ...

    def create_account_alias(self, alias: str) -> None:
        """Set the account alias, when the account has none (check its form first:
        users/forms/account.py; moto accepts anything). IAM refuses an alias another account
        has (EntityAlreadyExists); a retry of a created one is refused too."""
        try:
            self._call("CreateAccountAlias", AccountAlias=alias)
        finally:
            self.forget_account_info()

    def delete_account_alias(self, alias: str) -> None:
        """Delete the account alias: the sign-in URL is the account id's again. A retry after
        success raises NoSuchEntity on AWS (moto accepts it)."""
        try:
            self._call("DeleteAccountAlias", AccountAlias=alias)
        finally:
            self.forget_account_info()

    def change_account_alias(self, current: str, new: str) -> None:
        """Replace the alias `current` with `new`: DeleteAccountAlias, then CreateAccountAlias.
        If IAM refuses `new` (taken by another account), `current` is created again and
        AliasChangeFailed raised; an error deleting `current` is raised as it is (nothing
        changed). Safe to call again: a current alias already deleted is taken as done."""
        with suppress(NoSuchEntity):
            self.delete_account_alias(current)
        try:
            self.create_account_alias(new)
        except IamError as error:
            try:
                self.create_account_alias(current)
            except IamError:
                raise AliasChangeFailed(error, restored=False) from None
            raise AliasChangeFailed(error, restored=True) from None
