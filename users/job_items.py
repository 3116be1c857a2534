"""Job items on a worker: claim a chunk of them, record each one's progress and secrets, save
their outcomes together, finish their job when they were the last, and the sweep that
re-queues what a dead worker left.

The worker side of jobs (users/jobs.py is the web side). users/tasks.py, Celery's entry
points, calls these; nothing here imports the web side or the tasks, so dependencies point one
way: jobs → tasks → job_items. Job state changes are functions over conditional queryset
UPDATEs rather than model methods: a claim must be one atomic `UPDATE … WHERE`.

Secrets (the job's custom password, each user's password and access key) live in the one-time
store, users/credentials.py, under the job's id:

    CUSTOM_PASSWORD_ITEM          {"password": ...}            put by jobs.start_job
    "password:<user name>"        {"password": ...}            ItemVault.keep_password
    "access-key:<user name>"      {"access_key_id": ..., "secret_access_key": ...}

Two entries per user, because the store is add-only per item. IAM user names have no ":", so
no user's items can meet CUSTOM_PASSWORD_ITEM.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from django.conf import settings
from django.db import connections
from django.db.models import Case, F, Max, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from users import credentials
from users.iam.errors import IamError
from users.models import Job, JobItem

log = logging.getLogger(__name__)

CUSTOM_PASSWORD_ITEM = "custom-password"
# A worker killed this many times on one item (a poison item) fails it instead of looping.
MAX_ATTEMPTS = 10
# The item fields a run writes (ItemProgress, ItemVault); never `status`, set by the functions
# that end a run.
RUN_FIELDS = ("steps", "access_key_id", "has_password")

Status = JobItem.Status
ACTIVE = (Status.QUEUED, Status.RUNNING)


def stale_after() -> timedelta:
    """A RUNNING item whose heartbeat is older than this has lost its worker. In production it
    stays above the task's time limit (users/tasks.py), so that a slow but live task is never
    run twice; every step saves a heartbeat, so a live task is stale only if a step hangs."""
    return timedelta(seconds=settings.JOB_ITEM_STALE_SECONDS)


def password_item(user_name: str) -> str:
    return f"password:{user_name}"


def access_key_item(user_name: str) -> str:
    return f"access-key:{user_name}"


def created_by(item: JobItem) -> str:
    """The value of the tag CreateUser puts on the item's user (provisioning.CREATED_BY_TAG):
    the job and the item's place in it, the same on every run."""
    return f"job/{item.job_id}/{item.position}"


@dataclass(frozen=True, slots=True)
class Claim:
    """The items one run holds (RUNNING, `JobItem.claim` = `token`), in the job's order."""

    token: uuid.UUID
    items: list[JobItem]


def claim_items(item_ids: Sequence[int]) -> Claim:
    """Take the items for this run: QUEUED ones, and RUNNING ones with a stale heartbeat
    (their worker died), become RUNNING under a new claim in one conditional UPDATE, so that two
    deliveries of a message never run the same user at once. Items with nothing to do (done,
    cancelled, running elsewhere) are left out; the claim may hold none."""
    now = timezone.now()
    token = uuid.uuid4()
    claimable = Q(status=Status.QUEUED) | (
        Q(status=Status.RUNNING) & (Q(heartbeat_at__lt=now - stale_after()) | Q(heartbeat_at__isnull=True))
    )
    JobItem.objects.filter(claimable, pk__in=item_ids).update(
        # The values before the update: an item still RUNNING lost its last run.
        interrupted=Case(When(status=Status.RUNNING, then=Value(True)), default=F("interrupted")),
        status=Status.RUNNING,
        claim=token,
        attempts=F("attempts") + 1,
        heartbeat_at=now,
        started_at=Coalesce(F("started_at"), Value(now)),
    )
    items = JobItem.objects.filter(claim=token).select_related("job", "job__operator").order_by("job", "position")
    return Claim(token, list(items))


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a run left one item: DONE, FAILED (with the error of its failed step, if any), or
    QUEUED again, to be sent again in `retry_in` seconds (0: an item the run did not start)."""

    item: JobItem
    status: str
    error: IamError | None = None
    retry_in: float | None = None
    database_error: bool = False  # the run met one: its connection may be broken


def save_outcomes(claim: Claim, outcomes: Sequence[Outcome]) -> tuple[set[Any], set[Any]]:
    """Save what the run learnt about these items and their new status, in one UPDATE, for the
    items the claim still holds; QUEUED ones become CANCELLED if their job was cancelled
    meanwhile. Then finish the jobs that have nothing left to run. The ids of those of the
    outcomes' jobs that are cancelled, and of those that are finished."""
    if not outcomes:
        return set(), set()
    now = timezone.now()
    job_ids = {outcome.item.job_id for outcome in outcomes}
    cancelled = set(Job.objects.filter(pk__in=job_ids, cancelled_at__isnull=False).values_list("id", flat=True))
    items = []
    for outcome in outcomes:
        item, status = outcome.item, outcome.status
        if status == Status.QUEUED and item.job_id in cancelled:
            status = Status.CANCELLED
        item.status, item.heartbeat_at, item.interrupted = status, now, False
        if status != Status.QUEUED:
            item.finished_at = now
        if status == Status.DONE:
            item.error_code, item.error_message = "", ""
        elif outcome.error is not None:
            item.error_code, item.error_message = outcome.error.code[:128], outcome.error.message
        items.append(item)
    fields = [*RUN_FIELDS, "status", "heartbeat_at", "finished_at", "error_code", "error_message", "interrupted"]
    _update(items, fields, claim=claim)
    finished = {job_id for job_id in job_ids if finish_job_if_done(job_id)}
    return cancelled, finished


def _update(items: Sequence[JobItem], fields: Sequence[str], *, claim: Claim | None = None) -> None:
    """Save these fields of each item (only while `claim` holds it, if given): one UPDATE
    statement sent for all of them (`executemany`: one pipeline on PostgreSQL). The ORM's
    `bulk_update` builds a CASE expression per field and item, and `Model.save` compiles its
    query each time: both cost more CPU than the IAM calls themselves (docs/PERFORMANCE.md).
    The values are prepared by the fields, as the ORM does."""
    connection = connections[JobItem.objects.db]
    by_name = {field.name: field for field in JobItem._meta.concrete_fields}

    def column(name: str) -> str:
        return connection.ops.quote_name(str(by_name[name].column))

    sql = f"UPDATE {connection.ops.quote_name(JobItem._meta.db_table)} SET "
    sql += ", ".join(f"{column(name)} = %s" for name in fields) + f" WHERE {column('id')} = %s"
    held: list[Any] = []
    if claim is not None:
        sql += f" AND {column('claim')} = %s AND {column('status')} = %s"
        held = [by_name["claim"].get_db_prep_save(claim.token, connection), Status.RUNNING]
    columns = [by_name[name] for name in fields]
    rows = [
        [*(field.get_db_prep_save(getattr(item, field.attname), connection) for field in columns), item.pk, *held]
        for item in items
    ]
    with connection.cursor() as cursor:
        if len(rows) == 1:
            cursor.execute(sql, rows[0])
        else:
            cursor.executemany(sql, rows)


def beat(claim: Claim) -> None:
    """The heartbeat of the items the claim still holds: a run that is alive, whether its
    items are started or waiting for a thread, is never taken for a dead one."""
    JobItem.objects.filter(claim=claim.token, status=Status.RUNNING).update(heartbeat_at=timezone.now())


def finish_job_if_done(job_id: Any) -> bool:
    """Stamp the job finished when none of its items is QUEUED or RUNNING; its secrets then
    have `settings.CREDENTIALS_TTL` left."""
    if JobItem.objects.filter(job_id=job_id, status__in=ACTIVE).exists():
        return False
    if Job.objects.filter(pk=job_id, finished_at__isnull=True).update(finished_at=timezone.now()):
        credentials.expire(batch=str(job_id), items=store_items(job_id), ttl=settings.CREDENTIALS_TTL)
    return True


def store_items(job_id: Any) -> list[str]:
    """Every item of the one-time store a job may hold: its custom password, and each user's
    password and access key (whether or not they were made)."""
    names = [CUSTOM_PASSWORD_ITEM]
    for user_name in JobItem.objects.filter(job_id=job_id).values_list("user_name", flat=True):
        names += [password_item(user_name), access_key_item(user_name)]
    return names


def requeue_stale_items() -> list[int]:
    """The sweeper: queue again what lost its worker or its message. Returns the ids of the
    items to send again (`tasks.sweep_stale_items` sends them).

    - RUNNING items with a heartbeat older than `stale_after()` (SIGKILL, OOM, time limit):
      back to QUEUED and re-sent (after MAX_ATTEMPTS, FAILED: a poison item must not loop);
    - QUEUED items of a job where nothing has moved for that long (a message lost with a Redis
      restart, or never sent): re-sent. A job moves when one of its items ends or is queued
      again; the heartbeat of a RUNNING item does not count (one slow IAM call in flight must
      not hold back the items whose messages were lost meanwhile).
    A duplicate message is harmless: `claim_item` runs each item once.
    """
    now = timezone.now()
    stale = now - stale_after()
    is_stale = Q(status=Status.RUNNING) & (Q(heartbeat_at__lt=stale) | Q(heartbeat_at__isnull=True))

    poisoned = list(JobItem.objects.filter(is_stale, attempts__gte=MAX_ATTEMPTS).values_list("id", "job_id"))
    if poisoned:
        JobItem.objects.filter(is_stale, id__in=[pk for pk, _ in poisoned]).update(
            status=Status.FAILED,
            interrupted=True,
            finished_at=now,
            error_code="WorkerLost",
            error_message=f"The worker stopped {MAX_ATTEMPTS} times while creating this user; see the worker log.",
        )
        for job_id in {job_id for _, job_id in poisoned}:
            finish_job_if_done(job_id)

    ids = list(JobItem.objects.filter(is_stale).values_list("id", flat=True))
    JobItem.objects.filter(is_stale, id__in=ids).update(status=Status.QUEUED, interrupted=True)

    waiting = set(Job.objects.filter(items__status=Status.QUEUED, created_at__lt=stale).values_list("id", flat=True))
    last_moves = (
        JobItem.objects.filter(job_id__in=waiting)
        .exclude(status=Status.RUNNING)
        .order_by()
        .values("job_id")
        .annotate(last=Max("heartbeat_at"))
    )
    stalled = [row["job_id"] for row in last_moves if row["last"] is None or row["last"] < stale]
    ids += (
        JobItem.objects.filter(job_id__in=stalled, status=Status.QUEUED)
        .exclude(id__in=ids)
        .values_list("id", flat=True)
    )
    if ids:
        log.warning("sweeper: queuing %d stale job items again", len(ids))
    return ids


class ItemProgress:
    """`provisioning.Progress` over `JobItem.steps`: one entry per attempt of a step,

        {"step", "status": "started|done|failed", "started_at", "at",
         "error_code", "error_message", "request_id", <facts, e.g. "access_key_id">}

    Saved (one UPDATE, no transaction held across IAM calls, the heartbeat beaten) at a
    failure, and with the item's outcome (`save_outcomes`); starts and successes are kept in
    memory until then. A run that dies before saving them redoes its steps, and every step is
    safe to redo (users/provisioning.py). The one that must know whether an earlier run sent it,
    a durable start (CreateAccessKey: a key nobody holds the secret of may exist), is not
    written either: the next run finds the item `interrupted` (job_items.claim_items), and
    `started_at` then answers that any step not done may have been started. So a user costs no
    UPDATE of its own. The item is this run's alone (claimed), so writing `steps` whole is safe;
    `status` is never written here.
    """

    def __init__(self, item: JobItem) -> None:
        self.item = item
        self.failure: IamError | None = None

    def _latest(self, step: str) -> dict[str, Any] | None:
        for entry in reversed(self.item.steps):
            if entry["step"] == step:
                return cast(dict[str, Any], entry)
        return None

    def is_done(self, step: str) -> bool:
        return any(entry["step"] == step and entry["status"] == "done" for entry in self.item.steps)

    def started_at(self, step: str) -> datetime | None:
        """The start of the step's latest attempt on record; for a step not done of an item
        whose last run died, the item's first start (that run may have started the step)."""
        entry = self._latest(step)
        if entry:
            return datetime.fromisoformat(entry["started_at"])
        if self.item.interrupted and not self.is_done(step):
            return self.item.started_at or timezone.now()
        return None

    def start(self, step: str, *, durable: bool) -> None:
        """Kept in memory (see the class: a durable start is known to the next run anyway)."""
        now = timezone.now().isoformat()
        self.item.steps = [*self.item.steps, {"step": step, "status": "started", "started_at": now, "at": now}]

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
        _update([self.item], [*RUN_FIELDS, *fields, "heartbeat_at"])


class ItemVault:
    """`provisioning.Vault`: one user's slice of the one-time store, under the job's id."""

    def __init__(self, job: Job, item: JobItem) -> None:
        self.batch, self.operator_id, self.item = str(job.id), job.operator_id, item
        # The item's first run (its first claim): no earlier run stored anything, so there is
        # nothing to read back (two store round trips per user saved).
        self.first_run = item.attempts == 1

    def _take(self, name: str) -> dict[str, str] | None:
        if self.first_run:
            return None
        try:
            return credentials.take(batch=self.batch, operator_id=self.operator_id, item=name)
        except credentials.CredentialsGone:
            return None

    def _put(self, name: str, secret: dict[str, str]) -> bool:
        return credentials.put(
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

    def keep_password(self, password: str) -> bool:
        kept = self._put(password_item(self.item.user_name), {"password": password})
        self._mark_password()
        return kept

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
