"""The access-key hygiene report, read from IAM's credential report alone (one
GenerateCredentialReport + GetCredentialReport for the whole account, never a call per user):

- active access keys older than N days, or unused for N days (never used counts from the key's
  creation), N being `settings.ACCESS_KEY_MAX_AGE_DAYS` (90) or the page's ?days=;
- users with a console password and no MFA device.

The credential report names no key ids, and neither the page nor the CSV export reads them: a
stale key is named by what the report gives, its user, its slot (access_key_1, access_key_2:
"Key 1", "Key 2") and its creation time (last_rotated), `StaleKey.reference`. Only an explicit
action reads key ids: the Deactivate confirmation (one ListAccessKeys per selected user) and a
row's Rotate (one for its user), `match_keys` matching each reported key to IAM's by its
creation time.

A plain module: no Django request, no IAM calls of its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from users.exports import escaped_line
from users.iam.types import AccessKey, CredentialReport

# A reported key's last_rotated is IAM's CreateDate to the second; ListAccessKeys gives the
# same moment, perhaps with its fraction of a second.
MATCH_SECONDS = 2.0
# How a reported key's creation time is written in a checkbox's value or a Rotate link (UTC).
CREATED_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
CSV_HEADER = ("User name", "Finding", "Access key", "Created", "Last used", "Reason")
KEY_FINDING = "Stale access key"
MFA_FINDING = "Console access without MFA"


def _created_text(created: datetime) -> str:
    return created.astimezone(UTC).strftime(CREATED_FORMAT)


def key_reference(user_name: str, slot: int, created: datetime) -> str:
    """How a checkbox's value names a reported key: "<user name>:<slot>:<created>"
    (forms/hygiene.py `selected_keys` reads it back)."""
    return f"{user_name}:{slot}:{_created_text(created)}"


@dataclass(frozen=True, slots=True)
class StaleKey:
    """An active access key older than the threshold or unused for it, as the report shows it
    (no key id: the report names none)."""

    user_name: str
    slot: int  # the report's access_key_1 or access_key_2
    created: datetime | None  # the report's last_rotated: when IAM created the key
    last_used: datetime | None  # None: never used
    age_days: int | None
    unused_days: int | None  # days since the last use, or since creation for a key never used
    old: bool
    unused: bool

    @property
    def reasons(self) -> list[str]:
        found = []
        if self.old:
            found.append(f"{self.age_days} days old")
        if self.unused:
            found.append("never used" if self.last_used is None else f"unused for {self.unused_days} days")
        return found

    @property
    def created_text(self) -> str:
        """The creation time as CREATED_FORMAT ("" if the report gives none)."""
        return _created_text(self.created) if self.created else ""

    @property
    def reference(self) -> str:
        """The key for a Deactivate checkbox ("" if the report gives no creation time, which
        alone can find the key in IAM): `key_reference`."""
        return key_reference(self.user_name, self.slot, self.created) if self.created else ""


@dataclass(frozen=True, slots=True)
class ReportedKey:
    """A key as the page names it (user, slot, creation time) and, once read from IAM
    (`match_keys`), its id and current status; no id: IAM no longer has it."""

    user_name: str
    slot: int
    created: datetime
    key_id: str = ""
    status: str = ""  # IAM's status now: "Active" or "Inactive"; "" when not found

    @property
    def reference(self) -> str:
        return key_reference(self.user_name, self.slot, self.created)

    @property
    def deactivatable(self) -> bool:
        return bool(self.key_id) and self.status == "Active"


@dataclass(frozen=True, slots=True)
class UserWithoutMfa:
    """A user who can sign in to the console with a password and has no MFA device."""

    user_name: str
    password_last_used: datetime | None  # None: never signed in


@dataclass(frozen=True, slots=True)
class HygieneReport:
    generated: datetime  # when IAM generated the credential report
    days: int
    stale_keys: list[StaleKey]
    without_mfa: list[UserWithoutMfa]


def _days(since: datetime | None, now: datetime) -> int | None:
    return None if since is None else max(0, (now - since).days)


def hygiene_report(report: CredentialReport, *, days: int, now: datetime) -> HygieneReport:
    """The stale active keys (oldest first) and the console users without MFA (by name) of
    `report`, for a threshold of `days` days: older than means created more than `days` × 24
    hours before `now`; unused for means last used (or, never used, created) that long ago."""
    limit = timedelta(days=days)
    stale = []
    without_mfa = []
    for user in report.users.values():
        if user.password_enabled and not user.mfa_active:
            without_mfa.append(UserWithoutMfa(user.name, user.password_last_used))
        for slot, key in enumerate(user.access_keys, start=1):
            if not key.active:
                continue
            old = key.last_rotated is not None and now - key.last_rotated > limit
            since = key.last_used or key.last_rotated
            unused = since is not None and now - since > limit
            if old or unused:
                stale.append(
                    StaleKey(
                        user_name=user.name,
                        slot=slot,
                        created=key.last_rotated,
                        last_used=key.last_used,
                        age_days=_days(key.last_rotated, now),
                        unused_days=_days(since, now),
                        old=old,
                        unused=unused,
                    )
                )
    oldest_first = datetime.max.replace(tzinfo=now.tzinfo)
    stale.sort(key=lambda row: (row.created or oldest_first, row.user_name.casefold(), row.slot))
    without_mfa.sort(key=lambda row: row.user_name.casefold())
    return HygieneReport(report.generated, days, stale, without_mfa)


def match_keys(wanted: Sequence[ReportedKey], keys: Mapping[str, Sequence[AccessKey]]) -> list[ReportedKey]:
    """`wanted` with the id and current status of the key IAM lists for each (`keys`: the
    users' ListAccessKeys), matched by creation time within MATCH_SECONDS, the closest first,
    each key to one at most. One whose key IAM no longer lists (deleted since the report;
    a newer key is not taken for it) keeps no id."""
    taken: set[str] = set()
    matched = []
    for row in wanted:
        candidates = [
            key
            for key in keys.get(row.user_name, ())
            if key.access_key_id not in taken and abs((key.created - row.created).total_seconds()) <= MATCH_SECONDS
        ]
        if candidates:
            key = min(candidates, key=lambda found: abs((found.created - row.created).total_seconds()))
            taken.add(key.access_key_id)
            row = replace(row, key_id=key.access_key_id, status=key.status)
        matched.append(row)
    return matched


def _moment(value: datetime | None, *, never: str = "") -> str:
    return value.isoformat() if value else never


def hygiene_csv(report: HygieneReport) -> Iterator[str]:
    """The report as CSV lines (header first, LF endings, UTF-8 without BOM): one line per
    stale key (its slot in the credential report, not its id: the export makes no per-user
    call), then one per console user without MFA; every cell formula-escaped."""
    yield escaped_line(CSV_HEADER)
    threshold = f"threshold {report.days} days"
    for row in report.stale_keys:
        yield escaped_line(
            (
                row.user_name,
                KEY_FINDING,
                f"access_key_{row.slot}",
                _moment(row.created),
                _moment(row.last_used, never="Never"),
                f"{'; '.join(row.reasons)} ({threshold})",
            )
        )
    for user in report.without_mfa:
        yield escaped_line(
            (
                user.user_name,
                MFA_FINDING,
                "",
                "",
                _moment(user.password_last_used, never="Never"),
                "console password enabled, no MFA device",
            )
        )
