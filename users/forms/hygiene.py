"""The access-key hygiene page's threshold (?days=) and its Deactivate selection."""

from __future__ import annotations

import re
from collections.abc import Sequence

from django import forms
from django.conf import settings

from users.validators import is_valid_user_name

MIN_DAYS, MAX_DAYS = 1, 3650
# IAM's access key ids: 16 to 128 characters of \w (in practice AKIA + 16 capitals and digits).
KEY_ID_RE = re.compile(r"[A-Z0-9]{16,128}")
NO_KEYS_SELECTED_MESSAGE = "Select the access keys to deactivate."


class HygieneForm(forms.Form):
    """How many days make a key stale, for this view; the deployment's setting by default."""

    days = forms.IntegerField(
        label="Days",
        required=False,
        min_value=MIN_DAYS,
        max_value=MAX_DAYS,
        error_messages={
            "invalid": f"Enter a whole number of days from {MIN_DAYS} to {MAX_DAYS}.",
            "min_value": f"Enter a whole number of days from {MIN_DAYS} to {MAX_DAYS}.",
            "max_value": f"Enter a whole number of days from {MIN_DAYS} to {MAX_DAYS}.",
        },
        widget=forms.NumberInput(attrs={"class": "form-control", "min": MIN_DAYS, "max": MAX_DAYS}),
    )

    def threshold(self) -> int:
        """The days to use (call after is_valid())."""
        return self.cleaned_data.get("days") or settings.ACCESS_KEY_MAX_AGE_DAYS


def selected_keys(values: Sequence[str], *, limit: int) -> dict[str, list[str]]:
    """The Deactivate checkboxes' values, "<user name>:<access key id>" (an IAM user name
    holds no ":"), as {user name: [key ids]} in the order given. ValueError for a value no
    IAM user and key could have, or for more than `limit` keys."""
    if len(values) > limit:
        raise ValueError(f"at most {limit} keys at once")
    selection: dict[str, list[str]] = {}
    for value in values:
        user, separator, key_id = value.rpartition(":")
        if not separator or not is_valid_user_name(user) or not KEY_ID_RE.fullmatch(key_id):
            raise ValueError(f"not a user and access key: {value!r}")
        if key_id not in selection.setdefault(user, []):
            selection[user].append(key_id)
    return selection
