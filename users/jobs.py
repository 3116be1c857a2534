"""Jobs: batches of users to create, one Celery task per user (RELIABILITY.md §2.6, §2.7).

Used by the Add-user wizard and the bulk import, so there is one path for creation:

    job = start_job(operator=..., source=Job.Source.WIZARD, plans=[UserPlan, ...],
                    custom_password=None or the typed password)

The database is the truth about progress: each `JobItem` holds its plan (no secrets), its status
and a log of its IAM steps. Celery messages carry item ids only, and the broker is only a
trigger: a lost message or a killed worker is repaired by `requeue_stale_items` (the sweeper).
Secrets (the job's custom password, each user's password and access key) live in the one-time
store, users/credentials.py, under the job's id:

    CUSTOM_PASSWORD_ITEM          {"password": ...}            put by start_job
    "password:<user name>"        {"password": ...}            ItemVault.keep_password
    "access-key:<user name>"      {"access_key_id": ..., "secret_access_key": ...}

Two entries per user, because the store is add-only per item. IAM user names have no ":", so
no user's items can meet CUSTOM_PASSWORD_ITEM.

Secrets are stored for `credentials.MAX_TTL` (60 min), and cut to `settings.CREDENTIALS_TTL`
(15 min) when the job finishes: 15 min from completion, capped at 60 min from creation, so a
long bulk job does not lose its first secrets (RELIABILITY.md §2.5 rule 4). Only the operator's
session that started the job may read them (`bind_to_session`; RELIABILITY.md S4): the store
checks the operator, the views check the session.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from django.db.models import Count, F, Max, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables
from kombu.exceptions import OperationalError

from . import audit, credentials
from .context_processors import account_info
from .exports import CredentialRow, sign_in_email_link
from .gateway import IamError, IamGateway
from .models import Job, JobItem
from .provisioning import UserPlan

log = logging.getLogger(__name__)

CUSTOM_PASSWORD_ITEM = "custom-password"
# A worker killed this many times on one item (a poison item) fails it instead of looping.
MAX_ATTEMPTS = 10
# The session key listing the jobs whose credentials this session may read (the latest few).
SESSION_JOBS = "credential_jobs"
SESSION_JOBS_KEPT = 20
BULK_BATCH = 500  # rows per INSERT when a job is created
# The item fields a run writes (ItemProgress, ItemVault); never `status`, set by the functions
# that end a run.
RUN_FIELDS = ("steps", "access_key_id", "has_password")

Status = JobItem.Status
ACTIVE = (Status.QUEUED, Status.RUNNING)


class JobQueueUnavailable(Exception):
    """The broker does not answer; nothing was created or changed."""


def stale_after() -> timedelta:
    """A RUNNING item whose heartbeat is older than this has lost its worker. In production it
    stays above the task's time limit (users/tasks.py), so that a slow but live task is never
    run twice; every step saves a heartbeat, so a live task is stale only if a step hangs."""
    return timedelta(seconds=settings.JOB_ITEM_STALE_SECONDS)


def password_item(user_name: str) -> str:
    return f"password:{user_name}"


def access_key_item(user_name: str) -> str:
    return f"access-key:{user_name}"


# --- Starting, retrying, cancelling ----------------------------------------------------------


@sensitive_variables("custom_password")
def start_job(
    *,
    operator: AbstractBaseUser,
    source: str,
    plans: Sequence[UserPlan],
    custom_password: str | None = None,
    session: SessionBase | None = None,
) -> Job:
    """Create a job with one item per plan and queue its items once the transaction commits.

    The custom password (for the plans with `custom_password=True`) goes to the one-time store
    only: never the database, never a Celery message. Pass the request's `session`: only that
    session may then read the job's credentials. Raises `JobQueueUnavailable`, with nothing
    created, when the broker does not answer; `IamError` when IAM cannot tell the account.
    """
    if not plans:
        raise ValueError("a job needs at least one user")
    needs_custom = any(plan.custom_password for plan in plans)
    if needs_custom and not custom_password:
        raise ValueError("a plan asks for the custom password, and none was given")
    account = account_info(IamGateway.from_settings(operator=operator))
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
                credentials.put(
                    batch=str(job.id),
                    operator_id=operator.pk,
                    item=CUSTOM_PASSWORD_ITEM,
                    secret={"password": custom_password},
                    ttl=credentials.MAX_TTL,
                )
            item_ids = list(job.items.values_list("id", flat=True))
            transaction.on_commit(lambda: enqueue(item_ids))
    except BaseException:
        if job is not None:
            credentials.discard(batch=str(job.id), items=[CUSTOM_PASSWORD_ITEM])
        raise
    if session is not None:
        bind_to_session(session, job)
    return job


def bind_to_session(session: SessionBase, job: Job) -> None:
    """Let this session (and no other, even of the same operator) read the job's credentials."""
    kept = [job_id for job_id in session.get(SESSION_JOBS, []) if job_id != str(job.id)]
    session[SESSION_JOBS] = [*kept, str(job.id)][-SESSION_JOBS_KEPT:]


def is_bound_to_session(session: SessionBase, job: Job) -> bool:
    return str(job.id) in session.get(SESSION_JOBS, [])


def check_queue() -> None:
    """Raise `JobQueueUnavailable` unless the broker answers (one quick connection)."""
    from .tasks import run_job_item

    try:
        with run_job_item.app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0.2, timeout=3)
    except (OperationalError, OSError) as error:
        log.warning("job queue unavailable: %s", error)
        raise JobQueueUnavailable from None


def enqueue(item_ids: Iterable[int]) -> int:
    """Send one `run_job_item(item_id)` message per item; the number sent. If the broker fails
    now (it answered `check_queue` a moment ago), the rest stay QUEUED for the sweeper."""
    from .tasks import run_job_item

    sent = 0
    try:
        with run_job_item.app.producer_or_acquire() as producer:
            for item_id in item_ids:
                run_job_item.apply_async((item_id,), producer=producer)
                sent += 1
    except (OperationalError, OSError) as error:
        log.warning("job items not queued (%s); the sweeper will queue them", error)
    return sent


def retry_failed(job: Job) -> int:
    """Queue the job's FAILED items again; each resumes at its failed step. Reopens the
    credentials page for the secrets the retry creates. The number of items queued."""
    check_queue()
    with transaction.atomic():
        ids = list(job.items.select_for_update().filter(status=Status.FAILED).values_list("id", flat=True))
        if ids:
            JobItem.objects.filter(id__in=ids).update(
                status=Status.QUEUED, error_code="", error_message="", finished_at=None
            )
            Job.objects.filter(pk=job.pk).update(finished_at=None, cancelled_at=None, credentials_closed_at=None)
            transaction.on_commit(lambda: enqueue(ids))
    return len(ids)


def cancel(job: Job) -> int:
    """Cancel the items not started yet (running ones finish); the number cancelled."""
    now = timezone.now()
    with transaction.atomic():
        count = job.items.filter(status=Status.QUEUED).update(status=Status.CANCELLED, finished_at=now)
        Job.objects.filter(pk=job.pk, cancelled_at__isnull=True).update(cancelled_at=now)
    finish_job_if_done(job.pk)
    return count


# --- Counts ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JobCounts:
    queued: int = 0
    running: int = 0
    done: int = 0
    failed: int = 0
    cancelled: int = 0

    @property
    def total(self) -> int:
        return self.queued + self.running + self.done + self.failed + self.cancelled

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
    """The job's items by status, in one query."""
    rows = job.items.order_by().values("status").annotate(n=Count("id"))
    return JobCounts(**{row["status"]: row["n"] for row in rows})


# --- Running one item (called by users/tasks.py) ---------------------------------------------


def created_by(item: JobItem) -> str:
    """The value of the tag CreateUser puts on the item's user (provisioning.CREATED_BY_TAG):
    the job and the item's place in it, the same on every run."""
    return f"job/{item.job_id}/{item.position}"


def claim_item(item_id: int) -> JobItem | None:
    """Take the item for this run: QUEUED, or RUNNING with a stale heartbeat (its worker died),
    becomes RUNNING in one conditional UPDATE, so two deliveries of one message never run the
    same user at once. None when there is nothing to do (done, cancelled, running elsewhere)."""
    now = timezone.now()
    claimable = Q(status=Status.QUEUED) | (
        Q(status=Status.RUNNING) & (Q(heartbeat_at__lt=now - stale_after()) | Q(heartbeat_at__isnull=True))
    )
    claimed = JobItem.objects.filter(claimable, pk=item_id).update(
        status=Status.RUNNING,
        attempts=F("attempts") + 1,
        heartbeat_at=now,
        started_at=Coalesce(F("started_at"), Value(now)),
    )
    if not claimed:
        return None
    return JobItem.objects.select_related("job", "job__operator").get(pk=item_id)


def finish_item(item: JobItem, *, done: bool, error: IamError | None = None) -> None:
    """Set the item DONE or FAILED (with the error of its failed step), then finish the job if
    nothing is left to run."""
    now = timezone.now()
    fields: dict[str, Any] = {
        **_run_fields(item),
        "status": Status.DONE if done else Status.FAILED,
        "finished_at": now,
        "heartbeat_at": now,
    }
    if done:
        fields.update(error_code="", error_message="")
    elif error is not None:
        fields.update(error_code=error.code[:128], error_message=error.message)
    JobItem.objects.filter(pk=item.pk, status=Status.RUNNING).update(**fields)
    finish_job_if_done(item.job_id)


def _run_fields(item: JobItem) -> dict[str, Any]:
    """What a run learns about its item (ItemProgress, ItemVault), saved with its progress."""
    return {name: getattr(item, name) for name in RUN_FIELDS}


def requeue_item(item: JobItem) -> None:
    """Back to QUEUED while the task waits to retry (cancel can then still stop it); straight
    to CANCELLED if the job was cancelled while this item ran."""
    now = timezone.now()
    if Job.objects.filter(pk=item.job_id, cancelled_at__isnull=False).exists():
        JobItem.objects.filter(pk=item.pk, status=Status.RUNNING).update(
            **_run_fields(item), status=Status.CANCELLED, finished_at=now, heartbeat_at=now
        )
        finish_job_if_done(item.job_id)
        return
    JobItem.objects.filter(pk=item.pk, status=Status.RUNNING).update(
        **_run_fields(item), status=Status.QUEUED, heartbeat_at=now
    )


def finish_job_if_done(job_id: Any) -> bool:
    """Stamp the job finished when none of its items is QUEUED or RUNNING; its secrets then
    have `settings.CREDENTIALS_TTL` left."""
    if JobItem.objects.filter(job_id=job_id, status__in=ACTIVE).exists():
        return False
    if Job.objects.filter(pk=job_id, finished_at__isnull=True).update(finished_at=timezone.now()):
        credentials.expire(batch=str(job_id), items=_store_items(job_id), ttl=settings.CREDENTIALS_TTL)
    return True


def _store_items(job_id: Any) -> list[str]:
    """Every item of the one-time store a job may hold: its custom password, and each user's
    password and access key (whether or not they were made)."""
    names = [CUSTOM_PASSWORD_ITEM]
    for user_name in JobItem.objects.filter(job_id=job_id).values_list("user_name", flat=True):
        names += [password_item(user_name), access_key_item(user_name)]
    return names


def credentials_expire_at(job: Job) -> datetime | None:
    """When a finished job's secrets go (None while it runs: 15 min after it finishes)."""
    return job.finished_at + timedelta(seconds=settings.CREDENTIALS_TTL) if job.finished_at else None


def requeue_stale_items() -> list[int]:
    """The sweeper: queue again what lost its worker or its message. Returns the item ids sent.

    - RUNNING items with a heartbeat older than `stale_after()` (SIGKILL, OOM, time limit):
      back to QUEUED and re-sent (after MAX_ATTEMPTS, FAILED: a poison item must not loop);
    - QUEUED items of a job where nothing has moved for that long (a message lost with a Redis
      restart, or never sent): re-sent.
    A duplicate message is harmless: `claim_item` runs each item once.
    """
    now = timezone.now()
    stale = now - stale_after()
    is_stale = Q(status=Status.RUNNING) & (Q(heartbeat_at__lt=stale) | Q(heartbeat_at__isnull=True))

    poisoned = list(JobItem.objects.filter(is_stale, attempts__gte=MAX_ATTEMPTS).values_list("id", "job_id"))
    if poisoned:
        JobItem.objects.filter(is_stale, id__in=[pk for pk, _ in poisoned]).update(
            status=Status.FAILED,
            finished_at=now,
            error_code="WorkerLost",
            error_message=f"The worker stopped {MAX_ATTEMPTS} times while creating this user; see the worker log.",
        )
        for job_id in {job_id for _, job_id in poisoned}:
            finish_job_if_done(job_id)

    ids = list(JobItem.objects.filter(is_stale).values_list("id", flat=True))
    JobItem.objects.filter(is_stale, id__in=ids).update(status=Status.QUEUED)

    waiting = set(Job.objects.filter(items__status=Status.QUEUED, created_at__lt=stale).values_list("id", flat=True))
    last_moves = (
        JobItem.objects.filter(job_id__in=waiting).order_by().values("job_id").annotate(last=Max("heartbeat_at"))
    )
    stalled = [row["job_id"] for row in last_moves if row["last"] is None or row["last"] < stale]
    ids += JobItem.objects.filter(job_id__in=stalled, status=Status.QUEUED).exclude(id__in=ids).values_list(
        "id", flat=True
    )
    if ids:
        log.warning("sweeper: queuing %d stale job items again", len(ids))
        enqueue(ids)
    return ids


class ItemProgress:
    """`provisioning.Progress` over `JobItem.steps`: one entry per attempt of a step,

        {"step", "status": "started|done|failed", "started_at", "at",
         "error_code", "error_message", "request_id", <facts, e.g. "access_key_id">}

    Saved (one UPDATE, no transaction held across IAM calls, the heartbeat beaten) at a durable
    start, at a failure, and with the item's end (`finish_item`, `requeue_item`). A success is
    kept in memory until then: a run that dies before saving it redoes the step, and every step
    is safe to redo (users/provisioning.py), so one UPDATE per IAM call is not needed. The item
    is this run's alone (claimed), so writing `steps` whole is safe; `status` is never written
    here.
    """

    def __init__(self, item: JobItem) -> None:
        self.item = item
        self.failure: IamError | None = None

    def _latest(self, step: str) -> dict[str, Any] | None:
        for entry in reversed(self.item.steps):
            if entry["step"] == step:
                return entry
        return None

    def is_done(self, step: str) -> bool:
        return any(entry["step"] == step and entry["status"] == "done" for entry in self.item.steps)

    def started_at(self, step: str) -> datetime | None:
        entry = self._latest(step)
        return datetime.fromisoformat(entry["started_at"]) if entry else None

    def start(self, step: str, *, durable: bool) -> None:
        now = timezone.now().isoformat()
        self.item.steps = [*self.item.steps, {"step": step, "status": "started", "started_at": now, "at": now}]
        if durable:
            self._save()

    def succeed(self, step: str, **facts: str) -> None:
        self._finish(step, {"status": "done", **facts})
        if "access_key_id" in facts:
            self.item.access_key_id = facts["access_key_id"]

    def fail(self, step: str, error: IamError) -> None:
        self.failure = error
        self._finish(
            step,
            {
                "status": "failed",
                "error_code": error.code,
                "error_message": error.message,
                "request_id": error.request_id,
            },
        )
        self.item.error_code, self.item.error_message = error.code[:128], error.message
        self._save("error_code", "error_message")

    def _finish(self, step: str, update: dict[str, Any]) -> None:
        steps = [dict(entry) for entry in self.item.steps]
        now = timezone.now().isoformat()
        for entry in reversed(steps):
            if entry["step"] == step and entry["status"] == "started":
                entry.update(update, at=now)
                break
        else:
            steps.append({"step": step, "started_at": now, "at": now, **update})
        self.item.steps = steps

    def _save(self, *fields: str) -> None:
        self.item.heartbeat_at = timezone.now()
        self.item.save(update_fields=[*RUN_FIELDS, *fields, "heartbeat_at"])


class ItemVault:
    """`provisioning.Vault`: one user's slice of the one-time store, under the job's id."""

    def __init__(self, job: Job, item: JobItem) -> None:
        self.batch, self.operator_id, self.item = str(job.id), job.operator_id, item

    def _take(self, name: str) -> dict[str, str] | None:
        try:
            return credentials.take(batch=self.batch, operator_id=self.operator_id, item=name)
        except credentials.CredentialsGone:
            return None

    def _put(self, name: str, secret: dict[str, str]) -> None:
        credentials.put(
            batch=self.batch, operator_id=self.operator_id, item=name, secret=secret, ttl=credentials.MAX_TTL
        )

    def password(self) -> str | None:
        secret = self._take(password_item(self.item.user_name))
        password = secret.get("password") if secret else None
        if password:
            # A run that stopped between storing the password and saving the flag (killed, or
            # the database away) left has_password False: the page would not show it.
            self._mark_password()
        return password

    def keep_password(self, password: str) -> None:
        self._put(password_item(self.item.user_name), {"password": password})
        self._mark_password()

    def _mark_password(self) -> None:
        self.item.has_password = True  # saved with the item's progress (RUN_FIELDS)

    def held_access_key_id(self) -> str | None:
        secret = self._take(access_key_item(self.item.user_name))
        return secret.get("access_key_id") if secret else None

    def keep_access_key(self, access_key_id: str, secret_access_key: str) -> None:
        self._put(
            access_key_item(self.item.user_name),
            {"access_key_id": access_key_id, "secret_access_key": secret_access_key},
        )

    def custom_password(self) -> str:
        secret = credentials.take(batch=self.batch, operator_id=self.operator_id, item=CUSTOM_PASSWORD_ITEM)
        if not secret.get("password"):
            raise credentials.CredentialsGone
        return secret["password"]


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
    names = [password_item(i.user_name) for i in items if i.has_password]
    names += [access_key_item(i.user_name) for i in items if i.access_key_id]
    secrets = credentials.take_batch(batch=str(job.id), operator_id=operator_id, items=names)
    # Close stamps the job before it discards: a read that began before Close and ends after it
    # must not be served.
    closed = Job.objects.filter(pk=job.pk, credentials_closed_at__isnull=False).exists()
    if closed or (names and not secrets):
        raise credentials.CredentialsGone
    lines = []
    for item in items:
        plan = UserPlan.from_json(item.plan)
        key = secrets.get(access_key_item(item.user_name), {})
        lines.append(
            CredentialsLine(
                item=item,
                password=secrets.get(password_item(item.user_name), {}).get("password"),
                access_key_id=key.get("access_key_id") or item.access_key_id or None,
                secret_access_key=key.get("secret_access_key"),
                console_access=plan.console_access,
                email_link=_email_link(job, plan) if plan.console_access else None,
            )
        )
    return lines


def close_credentials(job: Job, *, operator: AbstractBaseUser) -> None:
    """The operator pressed Close: stamp the job, then delete all its secrets (the custom
    password included). Audited without any value. Idempotent."""
    Job.objects.filter(pk=job.pk).update(credentials_closed_at=timezone.now())
    credentials.discard(batch=str(job.id), items=_store_items(job.pk))
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
