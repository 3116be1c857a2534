"""One job item on a worker: claim it, record its progress and secrets, finish or requeue it,
finish its job when it was the last, and the sweep that re-queues what a dead worker left.

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
from datetime import datetime, timedelta
from typing import Any, cast

from django.conf import settings
from django.db.models import F, Max, Q, Value
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
                return cast(dict[str, Any], entry)
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
