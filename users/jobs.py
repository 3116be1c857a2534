"""Jobs as the web sees them: batches of users to create, sent to Celery in chunks
(RELIABILITY.md §2.6, §2.7). Start, retry, cancel, the counts, and the Success page's
credentials. users/job_items.py is the worker side; users/tasks.py, between them, is Celery's
entry point: jobs → tasks → job_items, never back.

Used by the Add-user wizard and the bulk import, so there is one path for creation:

    job = start_job(operator=..., source=Job.Source.WIZARD, plans=[UserPlan, ...],
                    custom_password=None or the typed password)

The database is the truth about progress: each `JobItem` holds its plan (no secrets), its status
and a log of its IAM steps. Celery messages carry item ids only, and the broker is only a
trigger: a lost message or a killed worker is repaired by the sweeper
(`job_items.requeue_stale_items`). Secrets live in the one-time store (users/credentials.py)
under the job's id, as users/job_items.py lists.

Secrets are stored for `credentials.MAX_TTL` (60 min), and cut to `settings.CREDENTIALS_TTL`
(15 min) when the job finishes: 15 min from completion, capped at 60 min from creation, so a
long bulk job does not lose its first secrets (RELIABILITY.md §2.5 rule 4). Only the operator's
session that started the job may read them (`bind_to_session`; RELIABILITY.md S4): the store
checks the operator, the views check the session.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.sessions.backends.base import SessionBase
from django.db import connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables
from kombu.exceptions import OperationalError

from iamconsole.cache_outage import tolerant_cache
from users import audit, credentials, job_items, retrievals, tasks
from users.exports import CredentialRow, sign_in_email_link
from users.iam.errors import ReadOnlyConsole
from users.iam.gateway import IamGateway
from users.models import NOTICE_PENDING, Job, JobItem
from users.provisioning import NAME_TAKEN, UserPlan

log = logging.getLogger(__name__)

# The session key listing the jobs whose credentials this session may read (the latest few).
SESSION_JOBS = "credential_jobs"
SESSION_JOBS_KEPT = 20
SESSION_JOBS_EXPIRED = "credential_jobs_expired"  # jobs whose expiry this session audited
JOB_CREDENTIALS = "job-credentials"  # the kind of secret in the audit rows of a job's pages
BULK_BATCH = 500  # rows per INSERT when a job is created

Status = JobItem.Status
# A failed item whose name is another user's cannot succeed: Retry leaves it alone.
NAME_TAKEN_ITEM = Q(status=Status.FAILED, error_code=NAME_TAKEN)


class JobQueueUnavailable(Exception):
    """The broker does not answer; nothing was created or changed."""


# --- Starting, retrying, cancelling ----------------------------------------------------------


@sensitive_variables("custom_password")
def start_job(
    *,
    operator: User,
    source: str,
    plans: Sequence[UserPlan],
    custom_password: str | None = None,
    session: SessionBase | None = None,
) -> Job:
    """Create a job with one item per plan and queue its items once the transaction commits.

    The custom password (for the plans with `custom_password=True`) goes to the one-time store
    only: never the database, never a Celery message. Pass the request's `session`: only that
    session may then read the job's credentials. Raises `JobQueueUnavailable`, with nothing
    created, when the broker does not answer; `IamError` when IAM cannot tell the account, and
    `ReadOnlyConsole` when IAM_READ_ONLY (no job is made: its users could only fail).
    """
    if settings.IAM_READ_ONLY:
        raise ReadOnlyConsole("CreateUser")
    if not plans:
        raise ValueError("a job needs at least one user")
    needs_custom = any(plan.custom_password for plan in plans)
    if needs_custom and not custom_password:
        raise ValueError("a plan asks for the custom password, and none was given")
    account = IamGateway.from_settings(operator=operator).cached_account_info()
    check_queue()
    job: Job | None = None
    try:
        with transaction.atomic():
            job = Job.objects.create(
                operator=operator,
                source=source,
                account_id=account.account_id,
                sign_in_url=account.sign_in_url,
            )
            JobItem.objects.bulk_create(
                (
                    JobItem(job=job, position=position, user_name=plan.user_name, plan=plan.to_json())
                    for position, plan in enumerate(plans)
                ),
                batch_size=BULK_BATCH,
            )
            if needs_custom:
                assert custom_password  # checked above
                credentials.put(
                    batch=str(job.id),
                    operator_id=operator.pk,
                    item=job_items.CUSTOM_PASSWORD_ITEM,
                    secret={"password": custom_password},
                    ttl=credentials.MAX_TTL,
                )
            item_ids = list(job.items.values_list("id", flat=True))
            transaction.on_commit(lambda: tasks.enqueue(item_ids))
    except BaseException:
        if job is not None:
            credentials.discard(batch=str(job.id), items=[job_items.CUSTOM_PASSWORD_ITEM])
        raise
    if session is not None:
        bind_to_session(session, job)
    expect_notice(operator.pk)
    return job


def bind_to_session(session: SessionBase, job: Job) -> None:
    """Let this session (and no other, even of the same operator) read the job's credentials."""
    kept = [job_id for job_id in session.get(SESSION_JOBS, []) if job_id != str(job.id)]
    session[SESSION_JOBS] = [*kept, str(job.id)][-SESSION_JOBS_KEPT:]


def is_bound_to_session(session: SessionBase, job: Job) -> bool:
    return str(job.id) in session.get(SESSION_JOBS, [])


def check_queue() -> None:
    """Raise `JobQueueUnavailable` unless the broker answers (one quick connection)."""
    try:
        with tasks.run_job_items.app.connection_for_write() as connection:
            connection.ensure_connection(
                max_retries=1,
                interval_start=0,
                interval_step=0.2,  # type: ignore[arg-type]  # kombu takes float seconds; its stubs say int
                timeout=3,
            )
    except (OperationalError, OSError) as error:
        log.warning("job queue unavailable: %s", error)
        raise JobQueueUnavailable from None


def retry_failed(job: Job) -> int:
    """Queue the job's FAILED items again, but those whose name is taken by a user the job did
    not create (`NAME_TAKEN_ITEM`); each resumes at its failed step. Reopens the credentials
    page for the secrets the retry creates. The number of items queued."""
    check_queue()
    with transaction.atomic():
        failed = job.items.select_for_update().filter(status=Status.FAILED).exclude(NAME_TAKEN_ITEM)
        ids = list(failed.values_list("id", flat=True))
        if ids:
            JobItem.objects.filter(id__in=ids).update(
                status=Status.QUEUED, error_code="", error_message="", finished_at=None
            )
            Job.objects.filter(pk=job.pk).update(finished_at=None, cancelled_at=None, credentials_closed_at=None)
            transaction.on_commit(lambda: tasks.enqueue(ids))
    return len(ids)


def cancel(job: Job) -> int:
    """Cancel the items not started yet (running ones finish); the number cancelled."""
    now = timezone.now()
    with transaction.atomic():
        count = job.items.filter(status=Status.QUEUED).update(status=Status.CANCELLED, finished_at=now)
        Job.objects.filter(pk=job.pk, cancelled_at__isnull=True).update(cancelled_at=now)
    job_items.finish_job_if_done(job.pk)
    return count


# --- Counts ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JobCounts:
    queued: int = 0
    running: int = 0
    done: int = 0
    failed: int = 0
    cancelled: int = 0
    name_taken: int = 0  # of the failed: names of users this job did not create (NAME_TAKEN_ITEM)

    @property
    def total(self) -> int:
        return self.queued + self.running + self.done + self.failed + self.cancelled

    @property
    def retryable(self) -> int:
        """The failed items Retry queues again (`retry_failed`)."""
        return self.failed - self.name_taken

    @property
    def processed(self) -> int:
        return self.done + self.failed + self.cancelled

    @property
    def is_finished(self) -> bool:
        return self.queued + self.running == 0

    @property
    def all_done(self) -> bool:
        return self.total > 0 and self.done == self.total

    @property
    def percent(self) -> int:
        return 100 * self.processed // self.total if self.total else 100

    def as_dict(self) -> dict[str, Any]:
        return {
            "queued": self.queued,
            "running": self.running,
            "done": self.done,
            "failed": self.failed,
            "cancelled": self.cancelled,
            "total": self.total,
            "processed": self.processed,
            "percent": self.percent,
            "finished": self.is_finished,
            "all_done": self.all_done,
        }


def job_counts(job: Job) -> JobCounts:
    """The job's items by status, and how many failed on a taken name, in one query."""
    rows = job.items.order_by().values("status").annotate(n=Count("id"), taken=Count("id", filter=NAME_TAKEN_ITEM))
    taken = sum(row["taken"] for row in rows)
    return JobCounts(**{row["status"]: row["n"] for row in rows}, name_taken=taken)


def credentials_expire_at(job: Job) -> datetime | None:
    """When a finished job's secrets go (None while it runs: 15 min after it finishes)."""
    return job.finished_at + timedelta(seconds=settings.CREDENTIALS_TTL) if job.finished_at else None


# --- The credentials page --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CredentialsLine:
    """One row of the Success page: what was created for a user and what the store still has."""

    item: JobItem
    password: str | None = field(default=None, repr=False)
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    console_access: bool = False
    email_link: str | None = None

    @property
    def complete(self) -> bool:
        return self.item.status == Status.DONE

    @property
    def password_gone(self) -> bool:
        return self.item.has_password and self.password is None

    @property
    def access_key_gone(self) -> bool:
        return bool(self.item.access_key_id) and self.secret_access_key is None

    @property
    def imports_cleanly(self) -> bool:
        """Whether `aws configure import` reads this row as is (FEATURES.md §2F)."""
        name, password = self.item.user_name, self.password or ""
        escaped = name.startswith(("=", "+", "-", "@"))
        return not (escaped or "," in name or any(c in password for c in ',;"'))

    def csv_row(self) -> CredentialRow:
        return CredentialRow(
            user_name=self.item.user_name,
            password=self.password,
            access_key_id=self.access_key_id,
            secret_access_key=self.secret_access_key,
        )


@sensitive_variables("secrets", "key", "lines")
def read_credentials(job: Job, *, operator_id: int) -> list[CredentialsLine]:
    """The users to show on the Success page with their secrets, read from the store.

    Rows: the DONE items, and the failed or cancelled ones that hold a secret (it stays
    retrievable, RELIABILITY.md §2.7). Raises `credentials.CredentialsGone` after Close, or when
    none of the expected secrets is readable (expired, discarded, tampered);
    `credentials.NotYours` for another operator's secrets.
    """
    if job.credentials_closed_at:
        raise credentials.CredentialsGone
    holds_secret = Q(has_password=True) | ~Q(access_key_id="")
    items = list(
        job.items.filter(Q(status=Status.DONE) | (Q(status__in=[Status.FAILED, Status.CANCELLED]) & holds_secret))
    )
    names = [job_items.password_item(i.user_name) for i in items if i.has_password]
    names += [job_items.access_key_item(i.user_name) for i in items if i.access_key_id]
    secrets = credentials.take_batch(batch=str(job.id), operator_id=operator_id, items=names)
    # Close stamps the job before it discards: a read that began before Close and ends after it
    # must not be served.
    closed = Job.objects.filter(pk=job.pk, credentials_closed_at__isnull=False).exists()
    if closed or (names and not secrets):
        raise credentials.CredentialsGone
    lines = []
    for item in items:
        plan = UserPlan.from_json(item.plan)
        key = secrets.get(job_items.access_key_item(item.user_name), {})
        lines.append(
            CredentialsLine(
                item=item,
                password=secrets.get(job_items.password_item(item.user_name), {}).get("password"),
                access_key_id=key.get("access_key_id") or item.access_key_id or None,
                secret_access_key=key.get("secret_access_key"),
                console_access=plan.console_access,
                email_link=_email_link(job, plan) if plan.console_access else None,
            )
        )
    return lines


def audit_retrieval(job: Job, *, operator: User, action: str, users: int) -> None:
    """The job's secrets shown or downloaded (`retrievals.SHOW`, `retrievals.DOWNLOAD_CSV`):
    audited with the number of users, never a value."""
    audit.record(
        operator=operator,
        action=action,
        target=f"job {job.id}",
        parameters={"kind": JOB_CREDENTIALS, "job_id": str(job.id), "users": users},
        outcome="success",
    )


def audit_expiry(session: SessionBase, job: Job, *, operator: User) -> None:
    """The session that started the job found its secrets gone before Close (expired or
    unreadable): `retrievals.EXPIRED`, once per session."""
    recorded = session.get(SESSION_JOBS_EXPIRED, [])
    if str(job.id) in recorded or Job.objects.filter(pk=job.pk, credentials_closed_at__isnull=False).exists():
        return
    session[SESSION_JOBS_EXPIRED] = [*recorded, str(job.id)][-SESSION_JOBS_KEPT:]
    audit.record(
        operator=operator,
        action=retrievals.EXPIRED,
        target=f"job {job.id}",
        parameters={"kind": JOB_CREDENTIALS, "job_id": str(job.id)},
        outcome="failure",
    )


def close_credentials(job: Job, *, operator: User) -> None:
    """The operator pressed Close: stamp the job, then delete all its secrets (the custom
    password included). Audited without any value. Idempotent."""
    Job.objects.filter(pk=job.pk).update(credentials_closed_at=timezone.now())
    credentials.discard(batch=str(job.id), items=job_items.store_items(job.pk))
    audit.record(
        operator=operator,
        action="CloseCredentials",
        target=f"job {job.id}",
        parameters={"users": job.items.count()},
        outcome="success",
    )


def _email_link(job: Job, plan: UserPlan) -> str | None:
    try:
        return sign_in_email_link(
            account_id=job.account_id,
            sign_in_url=job.sign_in_url,
            user_name=plan.user_name,
            reset_required=plan.password_reset_required,
        )
    except ValueError:  # not a 12-digit account id: no link rather than a wrong one
        return None


# --- Reading a job's progress at one moment ---------------------------------------------------


@contextmanager
def one_snapshot() -> Iterator[None]:
    """Reads that all see the database at one moment, so that a page's counts, bar, badges and
    steps agree while workers write: a repeatable-read transaction on PostgreSQL (whose
    default, read committed, gives each query its own moment); SQLite's transactions already
    read one. Inside an enclosing transaction (tests), that one's isolation applies."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


# --- The top bar's notice of a finished job -------------------------------------------------
# A page's top bar tells its operator of their jobs that finished since they last looked, once.
# Operators with none are remembered in the cache, so their pages make no query for it.

QUIET_KEY = "job-notices-quiet:{operator_id}"
# How long an operator is taken as having no job to be told of without asking the database: a
# job started meanwhile forgets it at once (`expect_notice`); this bounds a lost forgetting.
QUIET_SECONDS = 600


@dataclass(frozen=True, slots=True)
class FinishedJobNotice:
    job_id: uuid.UUID
    source: str
    file_name: str
    counts: JobCounts

    @property
    def text(self) -> str:
        """E.g. "Import of 50 users (staff.csv) finished: 48 created, 2 failed"."""
        users = f"{self.counts.total} user{'s' if self.counts.total != 1 else ''}"
        what = f"Import of {users} ({self.file_name})" if self.file_name else f"Add user ({users})"
        outcome = [f"{self.counts.done} created"]
        if self.source == Job.Source.KEYS:  # the access-key hygiene page's Deactivate
            what, outcome = f"Deactivate access keys ({users})", [f"{self.counts.done} done"]
        outcome += [f"{self.counts.failed} failed"] if self.counts.failed else []
        outcome += [f"{self.counts.cancelled} cancelled"] if self.counts.cancelled else []
        return f"{what} finished: {', '.join(outcome)}"


def expect_notice(operator_id: int) -> None:
    """The operator has a job running: ask the database again on their next page."""
    tolerant_cache.delete(QUIET_KEY.format(operator_id=operator_id))


def take_finished_job_notices(operator_id: int, *, current_job: str | None = None) -> list[FinishedJobNotice]:
    """The operator's jobs that finished since they were last told, each marked as told (so
    shown once), oldest first; `current_job`, the job whose page is shown, is marked and left
    out. One indexed query (job_notice_pending) while a job runs; none when the cache says
    there is nothing to tell."""
    quiet = QUIET_KEY.format(operator_id=operator_id)
    if tolerant_cache.get(quiet):
        return []
    pending = list(
        Job.objects.filter(NOTICE_PENDING, operator_id=operator_id)
        .order_by("finished_at")
        .values_list("id", "finished_at", "source", "source_import__file_name")
    )
    if not pending:
        tolerant_cache.set(quiet, True, QUIET_SECONDS)
        return []
    finished = [(job_id, source, file_name) for job_id, finished_at, source, file_name in pending if finished_at]
    if not finished:
        return []
    ids = [job_id for job_id, _, _ in finished]
    # The finished_at it was told of, not the clock's time: a retry that finishes later is new.
    Job.objects.filter(pk__in=ids, finished_at__isnull=False).update(notified_finished_at=F("finished_at"))
    shown = [row for row in finished if str(row[0]) != current_job]
    if not shown:
        return []
    by_job: dict[uuid.UUID, dict[str, int]] = {}
    rows = JobItem.objects.filter(job_id__in=[row[0] for row in shown]).order_by().values("job_id", "status")
    for row in rows.annotate(n=Count("id")):
        by_job.setdefault(row["job_id"], {})[row["status"]] = row["n"]
    return [
        FinishedJobNotice(job_id, source, file_name or "", JobCounts(**by_job.get(job_id, {})))
        for job_id, source, file_name in shown
    ]
