"""Forms. Every rule an operator can break is checked here, next to its field."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

from django import forms

from . import credentials, imports
from .gateway import GroupSummary, PasswordPolicy, Policy, UserSummary
from .list_columns import COLUMNS
from .models import ListPreferences
from .validators import (
    MAX_GROUPS_PER_USER,
    MAX_MANAGED_POLICIES_PER_USER,
    MAX_NEW_USER_TAGS,
    SYMBOLS,
    USER_NAME_MESSAGE,
    duplicate_names,
    is_valid_user_name,
    password_problems,
    password_requirements,
    validate_group_name,
    validate_tags,
)

if TYPE_CHECKING:
    from .provisioning import CopiedPermissions


class UserSearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=128, strip=True)
    per_page = forms.TypedChoiceField(
        required=False, coerce=int, choices=[(10, "10"), (25, "25"), (50, "50")], empty_value=25
    )


class KnownChoicesField(forms.MultipleChoiceField):
    """A multiple choice that drops values it does not offer instead of refusing the form."""

    def clean(self, value: Any) -> list[str]:
        return [item for item in self.to_python(value) if self.valid_value(item)]


class ListPreferencesForm(forms.ModelForm):
    """The users list's preferences (the gear): page size and visible columns."""

    columns = KnownChoicesField(
        required=False,
        label="Select visible columns",
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
        choices=[(column.key, column.label) for column in COLUMNS],
    )

    class Meta:
        model = ListPreferences
        fields = ["per_page", "columns"]
        labels = {"per_page": "Page size"}
        widgets = {"per_page": forms.RadioSelect(attrs={"class": "form-check-input"})}


class PasswordPolicyForm(forms.Form):
    """The account password policy, with the AWS console's wording and limits."""

    policy = forms.ChoiceField(
        label="Password policy",
        widget=forms.RadioSelect,
        choices=[("default", "IAM default"), ("custom", "Custom")],
    )
    minimum_length = forms.IntegerField(
        required=False, label="Password minimum length", min_value=6, max_value=128, initial=8,
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
        required=False, label="Expire passwords in day(s)", min_value=1, max_value=1095,
        help_text="Needs to be between 1 and 1095 days.",
    )
    hard_expiry = forms.BooleanField(required=False, label="Password expiration requires administrator reset")
    allow_users_to_change_password = forms.BooleanField(
        required=False, label="Allow users to change their own password"
    )
    prevent_reuse = forms.BooleanField(required=False, label="Prevent password reuse")
    password_reuse_prevention = forms.IntegerField(
        required=False, label="Remember password(s)", min_value=1, max_value=24,
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
        data = super().clean()
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


# --- The Add user wizard ------------------------------------------------------------------

MAX_USERS_PER_PASS = 10  # "You can add up to 10 users at one time."
SEALED_PASSWORD_MAX_AGE = 60 * 60  # the wizard's custom password, sealed in the session

ACCESS_PROGRAMMATIC = "programmatic"
ACCESS_CONSOLE = "console"


def password_choice_field(label: str) -> forms.ChoiceField:
    """Autogenerated or custom password, as the console offers it (the wizard, console access)."""
    return forms.ChoiceField(
        label=label,
        widget=forms.RadioSelect,
        choices=[("autogenerated", "Autogenerated password"), ("custom", "Custom password")],
        initial="autogenerated",
        required=False,
    )


def custom_password_field() -> forms.CharField:
    """The typed password: never stripped, never rendered back into the page."""
    return forms.CharField(
        label="Custom password", required=False, strip=False, widget=forms.PasswordInput(render_value=False)
    )


class DetailsForm(forms.Form):
    """Step 1 — Set user details: up to 10 user names sharing one access type."""

    access_type = forms.MultipleChoiceField(
        label="Access type",
        widget=forms.CheckboxSelectMultiple,
        choices=[
            (ACCESS_PROGRAMMATIC, "Programmatic access"),
            (ACCESS_CONSOLE, "AWS Management Console access"),
        ],
        error_messages={"required": "Select at least one access type."},
    )
    console_password = password_choice_field("Console password")
    custom_password = custom_password_field()
    # The custom password once accepted, sealed (encrypted): the session never holds it in clear.
    sealed_password = forms.CharField(required=False, widget=forms.HiddenInput)
    require_password_reset = forms.BooleanField(
        label="Require password reset", required=False, initial=True,
        help_text="User must create a new password at next sign-in",
    )

    def __init__(self, *args: Any, existing_names: Collection[str], password_policy: PasswordPolicy, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.existing_names = {name.casefold() for name in existing_names}
        self.password_policy = password_policy
        self.password_requirements = password_requirements(password_policy)
        names = {
            f"user_name_{i}": forms.CharField(label="User name", required=i == 0, max_length=None)
            for i in range(MAX_USERS_PER_PASS)
        }
        self.fields = {**names, **self.fields}

    @property
    def user_name_fields(self) -> list[forms.BoundField]:
        return [self[f"user_name_{i}"] for i in range(MAX_USERS_PER_PASS)]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        entered = {f"user_name_{i}": data.get(f"user_name_{i}") or "" for i in range(MAX_USERS_PER_PASS)}
        duplicates = duplicate_names(name for name in entered.values() if name)
        for field, name in entered.items():
            if not name or field in self.errors:
                continue
            if not is_valid_user_name(name):
                self.add_error(field, USER_NAME_MESSAGE)
            elif name.casefold() in self.existing_names:
                self.add_error(field, "A user with this name already exists. User names are not case sensitive.")
            elif name in duplicates:
                self.add_error(field, "This user name is entered more than once (user names are not case sensitive).")
        data["user_names"] = [name for name in entered.values() if name]
        if ACCESS_CONSOLE in data.get("access_type", ()):
            self._clean_password(data)
        return data

    def _clean_password(self, data: dict[str, Any]) -> None:
        if data.get("console_password") != "custom":
            data["console_password"] = "autogenerated"
            return
        password = data.get("custom_password") or ""
        if not password and data.get("sealed_password"):
            try:
                password = credentials.unseal(data["sealed_password"], max_age=SEALED_PASSWORD_MAX_AGE)
            except credentials.CredentialsGone:
                self.add_error("custom_password", "The custom password has expired: enter it again.")
                return
        if not password:
            self.add_error("custom_password", "Enter a custom password.")
            return
        for problem in password_problems(password, self.password_policy):
            self.add_error("custom_password", problem)
        data["password"] = password


class PermissionsForm(forms.Form):
    """Step 2 — Set permissions: one of three options, and an optional permissions boundary."""

    option = forms.ChoiceField(
        widget=forms.RadioSelect,
        initial="group",
        choices=[
            ("group", "Add user to group"),
            ("copy", "Copy permissions from existing user"),
            ("attach", "Attach existing policies directly"),
        ],
    )
    groups = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    copy_from = forms.ChoiceField(required=False, widget=forms.RadioSelect)
    policies = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    boundary = forms.ChoiceField(
        widget=forms.RadioSelect,
        initial="none",
        choices=[
            ("none", "Create user without a permissions boundary"),
            ("policy", "Use a permissions boundary to control the maximum user permissions"),
        ],
    )
    boundary_policy = forms.ChoiceField(required=False, widget=forms.RadioSelect)

    def __init__(
        self,
        *args: Any,
        groups: list[GroupSummary],
        users: list[UserSummary],
        policies: list[Policy],
        change_password_slot: bool,
        copy_permissions: Callable[[str], CopiedPermissions],
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.group_rows, self.user_rows, self.policy_rows = groups, users, policies
        self.change_password_slot = change_password_slot
        self._copy_permissions = copy_permissions
        self.fields["groups"].choices = [(group.name, group.name) for group in groups]
        self.fields["copy_from"].choices = [(user.name, user.name) for user in users]
        self.fields["policies"].choices = [(policy.arn, policy.name) for policy in policies]
        self.fields["boundary_policy"].choices = [(policy.arn, policy.name) for policy in policies]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        option = data.get("option")
        # Only the chosen option counts: the others' selections are dropped, as in the console.
        data["groups"] = data.get("groups", []) if option == "group" else []
        data["policies"] = data.get("policies", []) if option == "attach" else []
        data["copy_from"] = data.get("copy_from") if option == "copy" else None
        data["copied"] = None
        slot = int(self.change_password_slot)
        if len(data["groups"]) > MAX_GROUPS_PER_USER:
            self.add_error("groups", f"A user can be a member of up to {MAX_GROUPS_PER_USER} groups.")
        if len(data["policies"]) + slot > MAX_MANAGED_POLICIES_PER_USER:
            self.add_error("policies", self._too_many_policies_message(len(data["policies"])))
        if option == "copy":
            self._clean_copy(data, slot)
        if data.get("boundary") == "policy" and not data.get("boundary_policy"):
            self.add_error("boundary_policy", "Choose the policy to use as the permissions boundary.")
        if data.get("boundary") != "policy":
            data["boundary_policy"] = None
        return data

    def _clean_copy(self, data: dict[str, Any], slot: int) -> None:
        if not data["copy_from"]:
            self.add_error("copy_from", "Choose a user to copy permissions from.")
            return
        copied = self._copy_permissions(data["copy_from"])
        if len(copied.policy_arns) + slot > MAX_MANAGED_POLICIES_PER_USER:
            self.add_error("copy_from", self._too_many_policies_message(len(copied.policy_arns)))
        data["copied"] = copied

    def _too_many_policies_message(self, count: int) -> str:
        message = f"A user can have up to {MAX_MANAGED_POLICIES_PER_USER} managed policies attached ({count} chosen"
        if self.change_password_slot:
            message += ", plus IAMUserChangePassword, attached because users must reset their password"
        return message + ")."


class NewGroupForm(forms.Form):
    """The Create group dialog of step 2: a group name and up to 10 policies."""

    name = forms.CharField(label="Group name", max_length=None)
    policies = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args: Any, existing_groups: Collection[str], policies: list[Policy], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.existing_groups = {name.casefold() for name in existing_groups}
        self.fields["policies"].choices = [(policy.arn, policy.name) for policy in policies]

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        validate_group_name(name)
        if name.casefold() in self.existing_groups:
            raise forms.ValidationError("A group with this name already exists. Group names are not case sensitive.")
        return name

    def clean_policies(self) -> list[str]:
        policies = self.cleaned_data["policies"]
        if len(policies) > MAX_MANAGED_POLICIES_PER_USER:
            raise forms.ValidationError("You can attach up to 10 policies to this user group.")
        return policies


class TagForm(forms.Form):
    key = forms.CharField(label="Key", required=False, strip=False)
    value = forms.CharField(label="Value - optional", required=False, strip=False)


class BaseTagFormSet(forms.BaseFormSet):
    """Step 3 — Add tags (optional): the IAM tag rules, each error on its row."""

    def clean(self) -> None:
        if any(self.errors):
            return
        rows = [
            (form, form.cleaned_data.get("key", ""), form.cleaned_data.get("value", ""))
            for form in self.forms
            if form.cleaned_data.get("key") or form.cleaned_data.get("value")
        ]
        errors = validate_tags([(key, value) for _, key, value in rows], new_user=True)
        for index, fields in errors.rows.items():
            for field, messages in fields.items():
                for message in messages:
                    rows[index][0].add_error(field, message)
        if errors.overall:
            raise forms.ValidationError(errors.overall)
        self.tags = tuple((key, value) for _, key, value in rows)


TagFormSet = forms.formset_factory(
    TagForm,
    formset=BaseTagFormSet,
    extra=1,
    max_num=MAX_NEW_USER_TAGS,
    validate_max=True,
    absolute_max=MAX_NEW_USER_TAGS,
)


class ReviewForm(forms.Form):
    """Step 4 — Review: nothing to enter; submitting it creates the users."""


class ImportForm(forms.Form):
    """Import users: the CSV file to dry-run (users/imports.py reads it)."""

    file = forms.FileField(
        label="CSV file",
        help_text=f"UTF-8, up to {imports.MAX_ROWS:,} users and {imports.MAX_BYTES // (1024 * 1024)} MB.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > imports.MAX_BYTES:
            raise forms.ValidationError(
                f"The file is {upload.size / (1024 * 1024):.1f} MB. An import file can be up to "
                f"{imports.MAX_BYTES // (1024 * 1024)} MB ({imports.MAX_ROWS:,} users)."
            )
        return upload


# --- Delete users ------------------------------------------------------------------------------

MAX_USERS_PER_DELETE = 50  # the largest page of the users list
NO_USERS_SELECTED_MESSAGE = "Select one or more users to delete."


def selected_user_names(values: list[str]) -> list[str]:
    """The users picked on the users list (`?user=a&user=b`), in order, once each; ValueError
    for a selection no page of the list can send (a bad name, too many)."""
    names = list(dict.fromkeys(value.strip() for value in values if value.strip()))
    if len(names) > MAX_USERS_PER_DELETE or not all(is_valid_user_name(name) for name in names):
        raise ValueError(f"at most {MAX_USERS_PER_DELETE} valid user names")
    return names


class DeleteUsersForm(forms.Form):
    """The console's confirmation: type the user name, or "delete" for several users."""

    confirmation = forms.CharField(max_length=64, strip=True)

    def __init__(self, *args: Any, user_names: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user_names = user_names
        field = self.fields["confirmation"]
        if len(user_names) == 1:
            field.label = "To confirm deletion, enter the user name in the text input field."
            field.widget.attrs["placeholder"] = user_names[0]
        else:
            field.label = "To confirm deletion, enter delete in the text input field."
            field.widget.attrs["placeholder"] = "delete"
        field.widget.attrs["autocomplete"] = "off"

    @property
    def expected(self) -> str:
        return self.user_names[0] if len(self.user_names) == 1 else "delete"

    def clean_confirmation(self) -> str:
        value: str = self.cleaned_data["confirmation"]
        if value != self.expected:
            raise forms.ValidationError(f"Enter {self.expected} to confirm.", code="confirmation")
        return value
