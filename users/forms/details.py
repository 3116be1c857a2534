"""Forms of the user details page's Groups and Tags tabs."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any, cast

from django import forms

from users.forms.wizard import TagForm
from users.validators import MAX_GROUPS_PER_USER, MAX_TAGS, TAG_LIMIT_MESSAGE, validate_tags


class AddToGroupsForm(forms.Form):
    """Add user to groups: the groups the user is not in yet, up to 10 groups in all."""

    groups = forms.MultipleChoiceField(
        label="User groups",
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Select one or more groups."},
    )

    def __init__(self, *args: Any, available: Sequence[str], member_of: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.MultipleChoiceField, self.fields["groups"]).choices = [(name, name) for name in available]
        self.member_of = member_of

    def clean_groups(self) -> list[str]:
        groups: list[str] = self.cleaned_data["groups"]
        if self.member_of + len(groups) > MAX_GROUPS_PER_USER:
            room = MAX_GROUPS_PER_USER - self.member_of
            raise forms.ValidationError(
                f"A user can be a member of up to {MAX_GROUPS_PER_USER} groups; this one is in {self.member_of}, "
                f"so you can add {room} more.",
                code="group_limit",
            )
        return groups


if TYPE_CHECKING:  # django-stubs' formsets are generic in their form; Django's take no subscript at runtime
    _TagFormSet = forms.BaseFormSet[TagForm]
else:
    _TagFormSet = forms.BaseFormSet


class BaseManageTagsFormSet(_TagFormSet):
    """Manage tags: the user's editable tags as rows, checked with IAM's rules as one set
    together with the tags the console keeps for itself (`kept`, not editable here)."""

    def __init__(self, *args: Any, kept: Collection[tuple[str, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kept = tuple(kept)

    def clean(self) -> None:
        if any(self.errors):
            return
        rows = [
            (form, form.cleaned_data.get("key", ""), form.cleaned_data.get("value", ""))
            for form in self.forms
            if form.cleaned_data.get("key") or form.cleaned_data.get("value")
        ]
        errors = validate_tags([(key, value) for _, key, value in rows])
        for index, fields in errors.rows.items():
            for field, messages in fields.items():
                for message in messages:
                    rows[index][0].add_error(field, message)
        if errors.overall or len(rows) + len(self.kept) > MAX_TAGS:
            raise forms.ValidationError(TAG_LIMIT_MESSAGE)
        self.tags = {key: value for _, key, value in rows}


# formset_factory() subclasses `formset`; the stubs only say BaseFormSet.
ManageTagsFormSet = cast(
    "type[BaseManageTagsFormSet]",
    forms.formset_factory(
        TagForm, formset=BaseManageTagsFormSet, extra=1, max_num=MAX_TAGS, validate_max=True, absolute_max=MAX_TAGS
    ),
)
