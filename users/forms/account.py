"""Account settings' forms: the password policy and the account alias, with the AWS
console's wording and limits."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, cast

from django import forms

from users.iam.types import PasswordPolicy
from users.validators import SYMBOLS

if TYPE_CHECKING:
    pass


class PasswordPolicyForm(forms.Form):
    """The account password policy, with the AWS console's wording and limits."""

    policy = forms.ChoiceField(
        label="Password policy",
        widget=forms.RadioSelect,
        choices=[("default", "IAM default"), ("custom", "Custom")],
    )
    minimum_length = forms.IntegerField(
        required=False,
        label="Password minimum length",
        min_value=6,
        max_value=128,
        initial=8,
        help_text="Enforce a minimum length of characters. Needs to be between 6 and 128.",
    )
    require_uppercase = forms.BooleanField(
        required=False, label="Require at least one uppercase letter from the Latin alphabet (A-Z)"
    )
    require_lowercase = forms.BooleanField(
        required=False, label="Require at least one lowercase letter from the Latin alphabet (a-z)"
    )
    require_numbers = forms.BooleanField(required=False, label="Require at least one number")
    require_symbols = forms.BooleanField(
        required=False, label=f"Require at least one non-alphanumeric character ({SYMBOLS})"
    )
    expire_passwords = forms.BooleanField(required=False, label="Turn on password expiration")
    max_password_age = forms.IntegerField(
        required=False,
        label="Expire passwords in day(s)",
        min_value=1,
        max_value=1095,
        help_text="Needs to be between 1 and 1095 days.",
    )
    hard_expiry = forms.BooleanField(required=False, label="Password expiration requires administrator reset")
    allow_users_to_change_password = forms.BooleanField(
        required=False, label="Allow users to change their own password"
    )
    prevent_reuse = forms.BooleanField(required=False, label="Prevent password reuse")
    password_reuse_prevention = forms.IntegerField(
        required=False,
        label="Remember password(s)",
        min_value=1,
        max_value=24,
        help_text="Needs to be between 1 and 24 passwords.",
    )

    @classmethod
    def initial_for(cls, policy: PasswordPolicy) -> dict[str, Any]:
        return {
            "policy": "default" if policy.is_default else "custom",
            "minimum_length": policy.minimum_length,
            "require_uppercase": policy.require_uppercase,
            "require_lowercase": policy.require_lowercase,
            "require_numbers": policy.require_numbers,
            "require_symbols": policy.require_symbols,
            "expire_passwords": bool(policy.max_password_age),
            "max_password_age": policy.max_password_age,
            "hard_expiry": policy.hard_expiry,
            "allow_users_to_change_password": policy.allow_users_to_change_password,
            "prevent_reuse": bool(policy.password_reuse_prevention),
            "password_reuse_prevention": policy.password_reuse_prevention,
        }

    def clean(self) -> dict[str, Any]:
        data = cast("dict[str, Any]", super().clean())  # Form.clean() returns cleaned_data
        if data.get("policy") != "custom":
            return data
        if data.get("minimum_length") is None and "minimum_length" not in self.errors:
            self.add_error("minimum_length", "Enter a minimum length between 6 and 128.")
        if data.get("expire_passwords") and not data.get("max_password_age"):
            self.add_error("max_password_age", "Enter the number of days, between 1 and 1095.")
        if data.get("prevent_reuse") and not data.get("password_reuse_prevention"):
            self.add_error("password_reuse_prevention", "Enter how many passwords to remember, between 1 and 24.")
        if data.get("hard_expiry") and not data.get("expire_passwords"):
            self.add_error("hard_expiry", "Administrator reset applies only when password expiration is on.")
        return data

    def to_policy(self) -> PasswordPolicy | None:
        """The custom policy to set, or None for the IAM default (no policy)."""
        data = self.cleaned_data
        if data["policy"] != "custom":
            return None
        return PasswordPolicy(
            minimum_length=data["minimum_length"],
            require_uppercase=data["require_uppercase"],
            require_lowercase=data["require_lowercase"],
            require_numbers=data["require_numbers"],
            require_symbols=data["require_symbols"],
            allow_users_to_change_password=data["allow_users_to_change_password"],
            max_password_age=data["max_password_age"] if data["expire_passwords"] else None,
            password_reuse_prevention=data["password_reuse_prevention"] if data["prevent_reuse"] else None,
            hard_expiry=data["hard_expiry"],
        )


# IAM's own pattern for an alias (the API reference's AccountAlias): 3-63 characters.
ALIAS_PATTERN = re.compile(r"[a-z0-9]([a-z0-9]|-(?!-)){1,61}[a-z0-9]")


class AccountAliasForm(forms.Form):
    """A new account alias, checked against IAM's rules before IAM sees it (moto checks none)."""

    alias = forms.CharField(
        label="Account alias",
        max_length=63,
        help_text="3 to 63 characters: lowercase letters, digits and hyphens, not starting or ending with a hyphen.",
    )

    def __init__(self, *args: Any, current: str | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.current = current

    def clean_alias(self) -> str:
        alias = cast(str, self.cleaned_data["alias"])
        if not ALIAS_PATTERN.fullmatch(alias):
            raise forms.ValidationError(_alias_problem(alias))
        if re.fullmatch(r"[0-9]{12}", alias):
            raise forms.ValidationError("The alias cannot be a 12-digit number: it would read as an account ID.")
        if alias == self.current:
            raise forms.ValidationError("This is already the account's alias.")
        return alias


def _alias_problem(alias: str) -> str:
    """Why `alias` does not match ALIAS_PATTERN."""
    if re.search(r"[^a-z0-9-]", alias):
        return "Use only lowercase letters (a-z), digits (0-9) and hyphens (-)."
    if alias.startswith("-") or alias.endswith("-"):
        return "The alias cannot start or end with a hyphen."
    if "--" in alias:
        return "The alias cannot contain two hyphens in a row."
    return "The alias must be 3 to 63 characters long."
