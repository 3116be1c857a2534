"""Forms of Assign MFA device (Security credentials tab): the device name, then two codes."""

from __future__ import annotations

import re
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError

MAX_MFA_DEVICES_PER_USER = 8


# CreateVirtualMFADevice's VirtualMFADeviceName: `[\w+=,.@-]+`, 1 to 226 characters.
MFA_DEVICE_NAME_RE = re.compile(r"[A-Za-z0-9_+=,.@-]{1,226}", re.ASCII)


MFA_CODE_RE = re.compile(r"[0-9]{6}", re.ASCII)


class MfaDeviceNameForm(forms.Form):
    """Assign MFA device, step 1: the device's name (an authenticator app's virtual device)."""

    device_name = forms.CharField(
        label="Device name",
        strip=True,
        help_text="Up to 226 characters. Valid characters: A-Z, a-z, 0-9, and + = , . @ _ - (hyphen)",
    )

    def clean_device_name(self) -> str:
        name: str = self.cleaned_data["device_name"]
        if not MFA_DEVICE_NAME_RE.fullmatch(name):
            raise ValidationError(
                "The device name can have up to 226 characters: A-Z, a-z, 0-9, and + = , . @ _ -", code="invalid"
            )
        return name


class MfaCodesForm(forms.Form):
    """Assign MFA device, step 2: two consecutive codes from the authenticator app."""

    code_1 = forms.CharField(label="MFA code 1", strip=True, widget=forms.TextInput(attrs={"autocomplete": "off"}))
    code_2 = forms.CharField(label="MFA code 2", strip=True, widget=forms.TextInput(attrs={"autocomplete": "off"}))

    def _code(self, field: str) -> str:
        code: str = self.cleaned_data[field]
        if not MFA_CODE_RE.fullmatch(code):
            raise ValidationError("Enter the 6 digits the app shows.", code="invalid")
        return code

    def clean_code_1(self) -> str:
        return self._code("code_1")

    def clean_code_2(self) -> str:
        return self._code("code_2")

    def clean(self) -> dict[str, Any]:
        data = cast("dict[str, Any]", super().clean())  # Form.clean() returns cleaned_data
        if data.get("code_1") and data.get("code_1") == data.get("code_2"):
            self.add_error("code_2", "Wait for the next code: the two codes must be consecutive.")
        return data
