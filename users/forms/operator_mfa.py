"""Operator MFA forms: the first code of a new authenticator, and the OTP step's code."""

from __future__ import annotations

import re

from django import forms


class EnrolForm(forms.Form):
    code = forms.CharField(
        label="MFA code",
        max_length=16,
        help_text="Enter the 6-digit code your authenticator app shows now.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def clean_code(self) -> str:
        code = re.sub(r"\s", "", self.cleaned_data["code"])
        if not re.fullmatch(r"\d{6}", code):
            raise forms.ValidationError("Enter the 6 digits your authenticator app shows.")
        return code


class VerifyForm(forms.Form):
    code = forms.CharField(
        label="MFA code",
        max_length=32,
        help_text="The 6-digit code from your authenticator app, or one of your recovery codes.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True}),
    )

    def clean_code(self) -> str:
        """Without spaces or dashes; recovery codes are lower case."""
        return re.sub(r"[\s-]", "", self.cleaned_data["code"]).lower()
