"""Import users: the CSV file to dry-run (users/imports.py reads it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms

from users import imports

if TYPE_CHECKING:
    pass


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
