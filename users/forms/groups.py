"""Forms of the User groups pages: Create group (also the wizard's Create group dialog:
name rules, case-insensitive uniqueness, 10 policies), Add users, Add permissions, Remove, Delete."""

from __future__ import annotations

from collections.abc import Collection
from functools import cached_property
from typing import Any, cast

from django import forms

from users.forms.policy_picker import PoliciesField, PolicyPicker
from users.iam.types import AttachedPolicy, IamUser, Policy, UserSummary
from users.validators import GROUP_NAME_RE, MAX_GROUPS_PER_USER, MAX_MANAGED_POLICIES_PER_USER, validate_group_name

MAX_MANAGED_POLICIES_PER_GROUP = 10  # "You can attach up to 10 policies to this user group."


PAGE_SIZES = [(25, "25"), (50, "50"), (100, "100")]


class ListSearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=128, strip=True)
    per_page = forms.TypedChoiceField(
        required=False,
        coerce=int,
        choices=PAGE_SIZES,
        empty_value=25,  # type: ignore[arg-type]  # any value works; django-stubs allows only str | None
    )


class AddUsersForm(forms.Form):
    """Add users to a group: users not in it yet, each in fewer than 10 groups."""

    users = forms.MultipleChoiceField(error_messages={"required": "Select one or more users to add."})

    def __init__(self, *args: Any, candidates: list[UserSummary], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.candidates = candidates
        cast(forms.MultipleChoiceField, self.fields["users"]).choices = [(user.name, user.name) for user in candidates]
        self._group_counts = {user.name: len(user.groups) for user in candidates}

    def clean_users(self) -> list[str]:
        names: list[str] = self.cleaned_data["users"]
        full = [name for name in names if self._group_counts[name] >= MAX_GROUPS_PER_USER]
        if full:
            raise forms.ValidationError(
                f"A user can be a member of up to {MAX_GROUPS_PER_USER} groups at a time. "
                f"Already in {MAX_GROUPS_PER_USER}: {', '.join(full)}."
            )
        return names


class AddPoliciesForm(forms.Form):
    """Attach policies to a group, within its quota of 10 managed policies."""

    policies = PoliciesField(error_messages={"required": "Select one or more policies to attach."})

    def __init__(self, *args: Any, candidates: list[Policy], attached: Collection[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.candidates, self.attached_arns, self.attached = candidates, attached, len(attached)
        cast(PoliciesField, self.fields["policies"]).offer(candidates)

    @cached_property
    def policies_picker(self) -> PolicyPicker:
        return PolicyPicker(self["policies"], self.candidates, exclude=self.attached_arns)

    @property
    def remaining(self) -> int:
        return max(MAX_MANAGED_POLICIES_PER_GROUP - self.attached, 0)

    def clean_policies(self) -> list[str]:
        arns: list[str] = self.cleaned_data["policies"]
        if len(arns) > self.remaining:
            raise forms.ValidationError(
                f"You can attach up to {MAX_MANAGED_POLICIES_PER_GROUP} policies to this user group. "
                f"It has {self.attached} attached: choose up to {self.remaining} more ({len(arns)} chosen)."
            )
        return arns


class RemoveUsersForm(forms.Form):
    """Remove some of the group's members."""

    users = forms.MultipleChoiceField(error_messages={"required": "Select one or more users to remove."})

    def __init__(self, *args: Any, members: list[IamUser], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.MultipleChoiceField, self.fields["users"]).choices = [(user.name, user.name) for user in members]


class RemovePoliciesForm(forms.Form):
    """Detach some of the group's managed policies."""

    policies = forms.MultipleChoiceField(error_messages={"required": "Select one or more policies to remove."})

    def __init__(self, *args: Any, attached: list[AttachedPolicy], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.MultipleChoiceField, self.fields["policies"]).choices = [
            (policy.arn, policy.name) for policy in attached
        ]


# --- Delete groups ---------------------------------------------------------------------------

MAX_GROUPS_PER_DELETE = 50


NO_GROUPS_SELECTED_MESSAGE = "Select one or more user groups to delete."


def selected_group_names(values: list[str]) -> list[str]:
    """The groups picked on the list (`?group=a&group=b`), in order, once each; ValueError for
    a selection no page can send (a bad name, too many)."""
    names = list(dict.fromkeys(value.strip() for value in values if value.strip()))
    if len(names) > MAX_GROUPS_PER_DELETE or not all(GROUP_NAME_RE.fullmatch(name) for name in names):
        raise ValueError(f"at most {MAX_GROUPS_PER_DELETE} valid group names")
    return names


class DeleteGroupsForm(forms.Form):
    """The console's confirmation: type the group name, or "delete" for several groups."""

    confirmation = forms.CharField(max_length=128, strip=True)

    def __init__(self, *args: Any, group_names: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.group_names = group_names
        field = self.fields["confirmation"]
        if len(group_names) == 1:
            field.label = "To confirm deletion, enter the user group name in the text input field."
        else:
            field.label = "To confirm deletion, enter delete in the text input field."
        field.widget.attrs.update(placeholder=self.expected, autocomplete="off")

    @property
    def expected(self) -> str:
        return self.group_names[0] if len(self.group_names) == 1 else "delete"

    def clean_confirmation(self) -> str:
        value: str = self.cleaned_data["confirmation"]
        if value != self.expected:
            raise forms.ValidationError(f"Enter {self.expected} to confirm.", code="confirmation")
        return value


NEW_GROUP_PREFIX = "new_group"  # the Create group dialog's fields, in a form of their own


class NewGroupForm(forms.Form):
    """Create group, on its page and as the dialog of wizard step 2 and of Add permissions
    (`NEW_GROUP_PREFIX`): a group name and up to 10 policies."""

    DUPLICATE_MESSAGE = "A group with this name already exists. Group names are not case sensitive."

    name = forms.CharField(label="Group name", max_length=None)
    policies = PoliciesField(required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args: Any, existing_groups: Collection[str], policies: list[Policy], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.existing_groups = {name.casefold() for name in existing_groups}
        self.policy_rows = policies
        cast(PoliciesField, self.fields["policies"]).offer(policies)

    @cached_property
    def policies_picker(self) -> PolicyPicker:
        return PolicyPicker(self["policies"], self.policy_rows)

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"]
        validate_group_name(name)
        if name.casefold() in self.existing_groups:
            raise forms.ValidationError(self.DUPLICATE_MESSAGE)
        return name

    def clean_policies(self) -> list[str]:
        policies: list[str] = self.cleaned_data["policies"]
        if len(policies) > MAX_MANAGED_POLICIES_PER_USER:
            raise forms.ValidationError("You can attach up to 10 policies to this user group.")
        return policies
