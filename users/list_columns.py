"""What each cell of the users list says (FEATURES.md §4A). Which columns exist and which an
operator sees is the column catalogue in users/models.py, next to `ListPreferences`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from django.utils import dateformat, timezone

from users.iam.types import AccessKey, CredentialReport, UserCredentials, UserSummary
from users.models import Column

NO_KEYS = "–"  # FEATURES.md §4A: a key column of a user without (active) keys
UNKNOWN = "—"  # the credential report has no line for the user (yet)


@dataclass(frozen=True, slots=True)
class Cell:
    column: str
    text: str = ""
    lines: tuple[str, ...] = ()  # one value a line (a user's access keys)
    title: str = ""  # a date's ISO 8601 value, or why the cell is unknown


@dataclass(frozen=True, slots=True)
class Row:
    user: UserSummary
    cells: tuple[Cell, ...]


def rows(
    users: Sequence[UserSummary],
    columns: Sequence[Column],
    keys: dict[str, list[AccessKey]],
    report: CredentialReport | None,
) -> list[Row]:
    """One row per user; `keys` (ListAccessKeys) and `report` are only read by the columns
    that need them."""
    today = timezone.localdate()
    return [Row(user, tuple(_cell(column, user, keys, report, today) for column in columns)) for user in users]


def _cell(
    column: Column,
    user: UserSummary,
    keys: dict[str, list[AccessKey]],
    report: CredentialReport | None,
    today: date,
) -> Cell:
    if column.source == "keys":
        lines = tuple(f"{key.access_key_id} ({key.status})" for key in keys[user.name])
        return Cell(column.key, "" if lines else "None", lines=lines)
    if column.source == "index":
        return _index_cell(column.key, user)
    credentials = report.users.get(user.name) if report else None
    if credentials is None:
        why = "Not in IAM's credential report yet" if report else "IAM's credential report is not ready"
        return Cell(column.key, UNKNOWN, title=why)
    return _report_cell(column.key, credentials, today)


def _index_cell(key: str, user: UserSummary) -> Cell:
    if key == "created":
        return _dated(key, _date(user.created), user.created)
    text = {
        "path": user.path,
        "groups": _groups(user.groups),
        "group_count": str(len(user.groups)),
        "arn": user.arn,
    }[key]
    return Cell(key, text)


def _report_cell(key: str, credentials: UserCredentials, today: date) -> Cell:
    keys = credentials.access_keys
    if key == "mfa":
        return Cell(key, "Yes" if credentials.mfa_active else "No")
    if key == "last_activity":
        moment = credentials.last_activity
        return _dated(key, _ago(moment, today), moment) if moment else Cell(key, "Never")
    if key in ("password_age", "console_last_sign_in") and not credentials.password_enabled:
        return Cell(key, "None")
    if key == "password_age":
        moment = credentials.password_last_changed
        return _dated(key, _age(moment, today), moment) if moment else Cell(key, UNKNOWN)
    if key == "console_last_sign_in":
        moment = credentials.password_last_used
        return _dated(key, _date(moment), moment) if moment else Cell(key, "Never")
    if key == "active_key_age":
        created = [k.last_rotated for k in keys if k.active and k.last_rotated]
        return _dated(key, _age(min(created), today), min(created)) if created else Cell(key, NO_KEYS)
    used = [k.last_used for k in keys if k.last_used]  # access_key_last_used
    if not used:
        return Cell(key, "Never" if keys else NO_KEYS)
    return _dated(key, _ago(max(used), today), max(used))


def _groups(groups: tuple[str, ...]) -> str:
    """ "A, B + 2 more": the first two (the index sorts them), then how many others."""
    if not groups:
        return "None"
    more = f" + {len(groups) - 2} more" if len(groups) > 2 else ""
    return ", ".join(groups[:2]) + more


def _dated(key: str, text: str, moment: datetime) -> Cell:
    return Cell(key, text, title=moment.isoformat())


def _date(moment: datetime) -> str:
    return dateformat.format(timezone.localtime(moment), "M j, Y")


def _age(moment: datetime, today: date) -> str:
    """ "Today", "1 day", "N days": whole days since `moment`, in the console's time zone."""
    days = (today - timezone.localdate(moment)).days
    if days <= 0:
        return "Today"
    return "1 day" if days == 1 else f"{days} days"


def _ago(moment: datetime, today: date) -> str:
    age = _age(moment, today)
    return age if age == "Today" else f"{age} ago"
