"""Forms of the Permissions tab's actions (FEATURES.md §4C): Add permissions (the wizard's
`PermissionsForm`, counting what the user already has against the quotas), Create inline
policy (users/policy_documents.py) and Set permissions boundary."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from functools import cached_property
from typing import Any, cast

from django import forms

from users.forms.policy_picker import PolicyPicker
from users.forms.wizard import PermissionsForm
from users.iam.errors import NoSuchEntity
from users.iam.types import Policy
from users.policy_documents import MAX_USER_INLINE_POLICY_CHARS, policy_size, validate_inline_policy
from users.provisioning import UserPlan
from users.validators import MAX_GROUPS_PER_USER, MAX_MANAGED_POLICIES_PER_USER

# The JSON editor's starting document (the AWS console's).
POLICY_TEMPLATE = """{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "Statement1",
      "Effect": "Allow",
      "Action": [],
      "Resource": []
    }
  ]
}"""


class AddPermissionsForm(PermissionsForm):
    """Add permissions: one of the wizard's three options, without its boundary choice, for a
    user who is already in `member_of` groups and has the `attached` managed policies. The
    offered groups and policies are those the user does not have yet. `cleaned_data["plan"]`
    is a `UserPlan` of what to add (a copy's boundary included, as the console does)."""

    def __init__(
        self,
        *args: Any,
        user_name: str,
        member_of: Collection[str],
        attached: Collection[str],
        boundary: str | None,
        inline_documents: Callable[[], Mapping[str, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, change_password_slot=False, **kwargs)
        del self.fields["boundary"], self.fields["boundary_policy"]
        cast(forms.ChoiceField, self.fields["option"]).choices = [
            ("group", "Add user to group"),
            ("copy", "Copy permissions"),
            ("attach", "Attach policies directly"),
        ]
        self.user_name, self.current_boundary = user_name, boundary
        self.member_of, self.attached = set(member_of), set(attached)
        self.not_offered = self.attached
        self._inline_documents = inline_documents

    @property
    def groups_left(self) -> int:
        return max(MAX_GROUPS_PER_USER - len(self.member_of), 0)

    @property
    def policies_left(self) -> int:
        return max(MAX_MANAGED_POLICIES_PER_USER - len(self.attached), 0)

    def clean(self) -> dict[str, Any]:
        try:
            data = super().clean()
        except NoSuchEntity:  # the user to copy from was deleted since the list was read
            self.add_error("copy_from", "That user no longer exists.")
            return self.cleaned_data
        option = data.get("option")
        if option is None:
            return data
        copied = data.get("copied")
        inline: tuple[tuple[str, str], ...]
        groups, arns, inline, boundary = list(data["groups"]), list(data["policies"]), (), None
        if copied:
            groups = [group for group in copied.groups if group not in self.member_of]
            arns = [arn for arn in copied.policy_arns if arn not in self.attached]
            inline = self._new_inline_policies(copied.inline_policies)
            boundary = copied.permissions_boundary if copied.permissions_boundary != self.current_boundary else None
        field = {"group": "groups", "attach": "policies"}.get(option, "copy_from")
        if field not in self.errors:
            self._check_quotas(field, groups, arns)
        if field not in self.errors and not (groups or arns or inline or boundary):
            self.add_error(field, self._nothing_message(option))
        data["plan"] = UserPlan(
            user_name=self.user_name,
            groups=tuple(groups),
            policy_arns=tuple(arns),
            inline_policies=inline,
            permissions_boundary=boundary,
        )
        return data

    def _check_quotas(self, field: str, groups: list[str], arns: list[str]) -> None:
        if len(self.member_of) + len(groups) > MAX_GROUPS_PER_USER:
            self.add_error(
                field,
                f"A user can be a member of up to {MAX_GROUPS_PER_USER} groups: {self.user_name} is in "
                f"{len(self.member_of)}, and {len(groups)} more would make {len(self.member_of) + len(groups)}.",
            )
        if len(self.attached) + len(arns) > MAX_MANAGED_POLICIES_PER_USER:
            self.add_error(
                field,
                f"A user can have up to {MAX_MANAGED_POLICIES_PER_USER} managed policies attached: "
                f"{self.user_name} has {len(self.attached)}, and {len(arns)} more would make "
                f"{len(self.attached) + len(arns)}.",
            )

    def _new_inline_policies(self, copied: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
        """The copied inline policies, each checked against the user's own and the ones copied
        before it (name clashes, the 2,048-character quota), in normalized form."""
        if not copied:
            return ()
        existing = dict(self._inline_documents())
        normalized = []
        for name, document in copied:
            check = validate_inline_policy(name, document, existing=existing)
            for message in check.name_errors + check.document_errors:
                self.add_error("copy_from", f"Inline policy {name}: {message}")
            existing[name] = document
            normalized.append((name, check.normalized))
        return tuple(normalized)

    def _nothing_message(self, option: str) -> str:
        if option == "group":
            return "Select one or more groups."
        if option == "attach":
            return "Select one or more policies."
        return f"That user has no permissions that {self.user_name} does not already have."


class InlinePolicyForm(forms.Form):
    """Create inline policy: a name and a JSON document, checked with the user's `existing`
    inline policies (name → JSON document). `cleaned_data["normalized"]` is the document to put."""

    name = forms.CharField(
        label="Policy name",
        required=False,
        max_length=None,
        help_text="Maximum 128 characters. Use alphanumeric and '+=,.@-_' characters.",
    )
    document = forms.CharField(
        label="Policy editor",
        required=False,
        strip=False,
        initial=POLICY_TEMPLATE,
        widget=forms.Textarea,
    )

    def __init__(self, *args: Any, existing: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.existing = existing
        self.used = sum(policy_size(document) for document in existing.values())
        self.quota = MAX_USER_INLINE_POLICY_CHARS

    def clean(self) -> dict[str, Any]:
        data = cast("dict[str, Any]", super().clean())  # Form.clean() returns cleaned_data
        if self.errors:  # a field Django refused (a NUL character): nothing to check yet
            return data
        check = validate_inline_policy(data["name"], data["document"], existing=self.existing)
        for message in check.name_errors:
            self.add_error("name", message)
        for message in check.document_errors:
            self.add_error("document", message)
        data["normalized"] = check.normalized
        return data


class BoundaryForm(forms.Form):
    """Set or change the permissions boundary: one managed policy, chosen in a picker of the
    attachable ones (its ARN), or given by name or ARN."""

    policy = forms.CharField(
        label="Permissions boundary policy",
        max_length=2048,
        help_text="Search by name or filter by Type, then choose one managed policy.",
        error_messages={"required": "Choose the policy to use as the permissions boundary."},
    )

    def __init__(self, *args: Any, policies: list[Policy], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.policies = policies

    @cached_property
    def policy_picker(self) -> PolicyPicker:
        return PolicyPicker(self["policy"], [policy for policy in self.policies if policy.is_attachable])

    def clean_policy(self) -> Policy:
        value = self.cleaned_data["policy"]
        for policy in self.policies:
            if policy.arn == value:
                return policy
        named = [policy for policy in self.policies if policy.name == value]
        if len(named) > 1:
            raise forms.ValidationError(f"Several managed policies are named {value}: enter the ARN of the one to use.")
        if not named:
            raise forms.ValidationError(f"There is no managed policy with the name or ARN {value}.")
        return named[0]
