"""The access-key hygiene page's threshold (?days=), its Deactivate selection (keys named as
the credential report names them) and the confirmation's resolved key ids."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from django import forms
from django.conf import settings

from users.hygiene.report import CREATED_FORMAT, ReportedKey
from users.validators import is_valid_user_name

MIN_DAYS, MAX_DAYS = 1, 3650
# IAM's access key ids: 16 to 128 characters of \w (in practice AKIA + 16 capitals and digits).
KEY_ID_RE = re.compile(r"[A-Z0-9]{16,128}")
CREATED_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")  # CREATED_FORMAT
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


def parse_created(text: str) -> datetime:
    """A reported key's creation time as the page writes it (report.CREATED_FORMAT, UTC).
    ValueError for anything else."""
    if not CREATED_RE.fullmatch(text):
        raise ValueError(f"not a creation time: {text!r}")
    return datetime.strptime(text, CREATED_FORMAT).replace(tzinfo=UTC)


def selected_keys(values: Sequence[str], *, limit: int) -> list[ReportedKey]:
    """The Deactivate checkboxes' values, "<user name>:<slot>:<created>" (an IAM user name
    holds no ":"; slot 1 or 2; created as report.CREATED_FORMAT), in the order given, without
    repeats. ValueError for a value no reported key could have, or for more than `limit`."""
    if len(values) > limit:
        raise ValueError(f"at most {limit} keys at once")
    selection: dict[tuple[str, int], ReportedKey] = {}
    for value in values:
        user, _, rest = value.partition(":")
        slot, _, created = rest.partition(":")
        if not is_valid_user_name(user) or slot not in ("1", "2"):
            raise ValueError(f"not a user and reported access key: {value!r}")
        key = ReportedKey(user, int(slot), parse_created(created))
        selection.setdefault((user, key.slot), key)
    return list(selection.values())


def confirmed_key_ids(values: Sequence[str], selection: Sequence[ReportedKey]) -> dict[str, list[str]]:
    """The confirmation's resolved keys, "<user name>:<access key id>", as {user name: [key
    ids]} in the order given: only users of `selection`, and no more keys per user than were
    selected of that user (the worker checks again that each is that user's). ValueError else."""
    room: dict[str, int] = {}
    for key in selection:
        room[key.user_name] = room.get(key.user_name, 0) + 1
    chosen: dict[str, list[str]] = {}
    for value in values:
        user, separator, key_id = value.rpartition(":")
        if not separator or user not in room or not KEY_ID_RE.fullmatch(key_id):
            raise ValueError(f"not a key of the selected users: {value!r}")
        ids = chosen.setdefault(user, [])
        if key_id not in ids:
            ids.append(key_id)
        if len(ids) > room[user]:
            raise ValueError(f"more keys than selected for {user!r}")
    return chosen
