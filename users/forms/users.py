"""Forms of the Users list: search, the preferences (columns, page size), and Delete users."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms

from users.models import COLUMNS, ListPreferences
from users.validators import is_valid_user_name

if TYPE_CHECKING:  # django-stubs' ModelForm is generic in its model; Django's takes no subscript at runtime
    _ListPreferencesModelForm = forms.ModelForm[ListPreferences]
else:
    _ListPreferencesModelForm = forms.ModelForm


class UserSearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=128, strip=True)
    per_page = forms.TypedChoiceField(
        required=False,
        coerce=int,
        choices=[(10, "10"), (25, "25"), (50, "50")],
        empty_value=25,  # type: ignore[arg-type]  # any value works; django-stubs allows only str | None
    )


class KnownChoicesField(forms.MultipleChoiceField):
    """A multiple choice that drops values it does not offer instead of refusing the form."""

    def clean(self, value: Any) -> list[str]:
        return [item for item in self.to_python(value) if self.valid_value(item)]


class ListPreferencesForm(_ListPreferencesModelForm):
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
