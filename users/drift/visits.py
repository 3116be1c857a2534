"""Drift's stored part: the operator's last visit (`DriftVisit`), the page's changes, Mark as
seen, and the navigation's badge (users/drift/__init__.py tells the design).

Every IAM read here is one of the two account-wide, cached ones (`user_index`,
`credential_report`): never a call per user. The badge reads only what is already cached.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from iamconsole import cache_outage
from iamconsole.cache_outage import tolerant_cache as cache
from users.drift.changes import (
    EXPLAINING_ACTIONS,
    AuditedCall,
    Change,
    State,
    carried,
    complete,
    differences,
    digest,
    pack,
    state_of,
    unexplained,
    unpack,
)
from users.iam.errors import IamError
from users.iam.gateway import IamGateway
from users.models import AuditEvent, DriftVisit

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User

    from users.iam.types import CredentialReport

log = logging.getLogger(__name__)

# The badge is counted at most this often per operator (in between, the count cached is shown).
BADGE_SECONDS = 30
# The count last made is kept this long (it changes only when made again, or on Mark as seen).
LAST_COUNT_SECONDS = 600
# Audit rows this much older than the snapshot still explain a change: a job's changes reach the
# cached users index up to JOB_CHANGE_LAG_SECONDS (2 s) late, and its audit rows carry the time of
# the call, a little before its chunk makes the index stale.
AUDIT_MARGIN = timedelta(seconds=10)
# Up to this many changed users, the audit rows are read for them only (else by action and time).
AUDIT_TARGETS_MAX = 500


def scope() -> str:
    """Which IAM the console works on (backend, endpoint, role), as a visit's key: another
    account has another baseline."""
    text = f"{settings.IAM_BACKEND}|{settings.IAM_ENDPOINT_URL}|{settings.IAM_ASSUME_ROLE_ARN}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Drift:
    """What the page shows: the changes since the last visit, newest first seen first."""

    seen_at: datetime  # the last visit
    changes: list[Change]
    users: int  # in the users index now
    first_visit: bool  # the baseline was taken just now: nothing to show yet
    report_at: datetime | None  # when IAM generated the credential report read (None: not ready)
    current: State

    @property
    def digest(self) -> str:
        return digest(self.changes)


def _read(gateway: IamGateway, *, fresh: bool) -> tuple[State, CredentialReport | None, int]:
    """The current state: the users index and, if IAM gives it, the credential report."""
    index = gateway.user_index(fresh=fresh)
    try:
        report: CredentialReport | None = gateway.credential_report(fresh=fresh)
    except IamError:  # not ready yet, or refused: keys and passwords are compared next time
        report = None
    return state_of(index, report), report, len(index)


def _visit(operator: User) -> DriftVisit | None:
    return DriftVisit.objects.filter(operator=operator, scope=scope()).first()


def look(gateway: IamGateway, operator: User, *, fresh: bool = False) -> Drift:
    """The changes made outside the console since `operator`'s last visit (the first visit takes
    the baseline). `fresh` reads IAM again rather than the cached index and report."""
    current, report, users = _read(gateway, fresh=fresh)
    report_at = report.generated if report is not None else None
    visit, created = DriftVisit.objects.get_or_create(
        operator=operator,
        scope=scope(),
        defaults={"seen_at": timezone.now(), "report_at": report_at, "snapshot": pack(current)},
    )
    changes = [] if created else _changes(visit, current, report)
    _cache_badge(operator, gateway, len(changes))
    changes.sort(key=lambda change: change.first_seen or visit.seen_at, reverse=True)  # stable: then by user
    return Drift(visit.seen_at, changes, users, created, report_at, current)


def mark_seen(gateway: IamGateway, operator: User, shown: str) -> bool:
    """Take the current state as `operator`'s new baseline, if the changes are still those the page
    showed (`shown`, their digest); otherwise change nothing and say so (False): the page shows
    the newer list first. Not an IAM change: not audited."""
    drift = look(gateway, operator)
    if drift.first_visit:
        return True
    if drift.digest != shown:
        return False
    with transaction.atomic():
        visit = DriftVisit.objects.select_for_update().get(operator=operator, scope=scope())
        visit.snapshot = pack(carried(unpack(visit.snapshot), drift.current))
        visit.seen_at = timezone.now()
        visit.report_at = drift.report_at or visit.report_at
        visit.pending, visit.pending_count = b"", 0
        visit.save()
    _cache_badge(operator, gateway, 0)
    return True


def _changes(visit: DriftVisit, current: State, report: CredentialReport | None) -> list[Change]:
    """The changes from the visit's snapshot to `current` that no audited call explains, each with
    when it was first seen; kept in the visit (first-seen times, count; the snapshot if `complete`
    filled in what it did not know)."""
    snapshot = unpack(visit.snapshot)
    updates: dict[str, object] = {}
    if complete(snapshot, current):
        updates["snapshot"] = pack(snapshot)
    if visit.report_at is None and report is not None:
        updates["report_at"] = visit.report_at = report.generated
    changes = differences(snapshot, current)
    if changes:
        changes = unexplained(
            changes,
            _audited_calls(visit, {change.user for change in changes}),
            index_since=visit.seen_at - AUDIT_MARGIN,
            credentials_since=min(visit.seen_at, visit.report_at or visit.seen_at) - AUDIT_MARGIN,
        )
    first_seen: dict[str, float] = unpack(visit.pending)
    now = time.time()
    pending = {change.key: first_seen.get(change.key, now) for change in changes}
    if pending != first_seen or len(pending) != visit.pending_count:
        updates.update(pending=pack(pending) if pending else b"", pending_count=len(pending))
    if updates:
        # Unless Mark as seen (another request) moved the visit on meanwhile.
        DriftVisit.objects.filter(pk=visit.pk, seen_at=visit.seen_at).update(**updates)
    return [replace(change, first_seen=datetime.fromtimestamp(pending[change.key], UTC)) for change in changes]


def _audited_calls(visit: DriftVisit, users: set[str]) -> list[AuditedCall]:
    """The console's successful calls that could explain a change, since the visit (or its report)."""
    since = min(visit.seen_at, visit.report_at or visit.seen_at) - AUDIT_MARGIN
    rows = AuditEvent.objects.filter(outcome=AuditEvent.Outcome.SUCCESS, action__in=EXPLAINING_ACTIONS, at__gte=since)
    if len(users) <= AUDIT_TARGETS_MAX:
        rows = rows.filter(target__in=users)
    fields = ("action", "target", "parameters", "at")
    return [AuditedCall(*row) for row in rows.order_by().values_list(*fields).iterator(chunk_size=2000)]


# --- The navigation's badge -----------------------------------------------------------------


def _badge_keys(operator: User, gateway: IamGateway) -> tuple[str, str]:
    """The count made from the cached index, per generation of the gateway's cached reads (after
    a change made through the console, a new generation, it is made again from the index read
    since); and the count last made, whatever the generation (-1: the operator has no visit)."""
    base = f"drift-badge:{scope()}:{operator.pk}"
    return f"{base}:{gateway.cache_generation()}", f"{base}:last"


def _cache_badge(operator: User, gateway: IamGateway, count: int | None) -> None:
    counted, last = _badge_keys(operator, gateway)
    value = -1 if count is None else count
    cache.set(counted, value, BADGE_SECONDS)
    cache.set(last, value, LAST_COUNT_SECONDS)


def badge_count(operator: User) -> int | None:
    """The number of changes since `operator`'s last visit, None without a visit. Made from the
    cached users index and report only (never an IAM call), at most every BADGE_SECONDS per
    generation; while they are not cached, the count last made. None while the cache is down.

    Its cost on a page: one cache round trip when counted already; else, for an operator without
    a visit, nothing more (the count last made says so); else a look at the cached report and
    index (two misses when they are not cached), and, when both are, the count (a query, the diff)."""
    if cache_outage.in_outage():
        return None
    gateway = IamGateway.from_settings(operator=operator)
    counted_key, last_key = _badge_keys(operator, gateway)
    found = cache.get_many([counted_key, last_key])
    if counted_key in found:
        return None if found[counted_key] < 0 else int(found[counted_key])
    last = found.get(last_key)
    if last is None:
        pending = DriftVisit.objects.filter(operator=operator, scope=scope()).values_list("pending_count", flat=True)
        last = next(iter(pending), -1)
        cache.set(last_key, last, LAST_COUNT_SECONDS)
    if last < 0:
        return None
    report = gateway.cached_credential_report()  # the report first: the index alone is often cached
    index = gateway.cached_user_index() if report is not None else None
    visit = _visit(operator) if index is not None else None
    if report is None or index is None or visit is None:
        return int(last)
    count = len(_changes(visit, state_of(index, report), report))
    _cache_badge(operator, gateway, count)
    return count


class Badge:
    """The badge of a page's navigation, counted only if the page shows it (`count`). A failure
    (IAM, the database) leaves the badge out: the page is still served."""

    def __init__(self, user: AbstractBaseUser | AnonymousUser, count: int | None = None) -> None:
        self._user = user
        if count is not None:  # known already (the drift page)
            self.__dict__["count"] = count

    @cached_property
    def count(self) -> int | None:
        if not self._user.is_authenticated:
            return None
        try:
            return badge_count(self._user)  # type: ignore[arg-type]  # authenticated: a User
        except Exception:  # a page must never fail for its badge
            log.exception("drift badge: not counted")
            return None
