"""Celery's entry points: sending job items (`enqueue`), running one (`run_job_item`), the
sweeper, and the worker's signal handlers. They take ids, never secrets; the work itself is in
users/job_items.py and users/provisioning.py. The task names (`users.tasks.run_job_item` …)
are what queued messages carry: keep them across deploys.

Delivery is at least once (`task_acks_late`, `task_reject_on_worker_lost` in settings), so
`run_job_item` claims its item with a conditional UPDATE before it does anything, and every IAM
step it runs is idempotent or reconciled (users/provisioning.py). The database, not the broker,
is the truth: the sweeper re-sends what a dead worker or a lost message left behind.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable
from typing import Any, Protocol, cast

from celery import Task, bootsteps, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import task_postrun, task_prerun
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, close_old_connections
from kombu.exceptions import OperationalError

from iamconsole import cache_outage
from iamconsole.celery import app
from users import job_items
from users.iam.errors import IamError
from users.iam.gateway import IamGateway
from users.iam.types import PasswordPolicy
from users.models import JobItem
from users.provisioning import RETRYABLE, UserPlan, provision_user

log = logging.getLogger(__name__)

PROBE_SECONDS = 300

# Well under the broker's visibility timeout (3600 s by default) and under the sweeper's
# staleness threshold (settings.JOB_ITEM_STALE_SECONDS), so that a live task is never run twice.
RUN_ITEM_TIME_LIMIT = 300
RUN_ITEM_SOFT_TIME_LIMIT = 270
# Retryable IAM errors (throttling, 5xx, ConcurrentModification, no answer): Celery retries
# with a countdown drawn uniformly from [0, min(60, 2 * 2**retries)] s, at most 6 times.
RETRY_BACKOFF = 2
RETRY_BACKOFF_MAX = 60
MAX_RETRIES = 6

# A job reads the account password policy once, and again after this long (a policy changed
# meanwhile then shapes the passwords generated after that).
JOB_PASSWORD_POLICY_SECONDS = 300

SWEEPER_KEY = "jobs:sweeper-chain"


@shared_task
def probe(key: str) -> None:
    """Prove the path broker → worker → IAM → cache: store the account id under `key`.

    `make run` waits for it before saying the worker is ready; the tests use it too.
    """
    cache.set(key, IamGateway.from_settings().account_info().account_id, PROBE_SECONDS)


def enqueue(item_ids: Iterable[int]) -> int:
    """Send one `run_job_item(item_id)` message per item; the number sent. If the broker fails
    now (it answered `jobs.check_queue` a moment ago), the rest stay QUEUED for the sweeper."""
    sent = 0
    try:
        with run_job_item.app.producer_or_acquire() as producer:
            for item_id in item_ids:
                run_job_item.apply_async((item_id,), producer=producer)
                sent += 1
    except (OperationalError, OSError) as error:
        log.warning("job items not queued (%s); the sweeper will queue them", error)
    return sent


@shared_task(
    bind=True,
    max_retries=MAX_RETRIES,
    retry_backoff=RETRY_BACKOFF,
    retry_backoff_max=RETRY_BACKOFF_MAX,
    retry_jitter=True,
    time_limit=RUN_ITEM_TIME_LIMIT,
    soft_time_limit=RUN_ITEM_SOFT_TIME_LIMIT,
)
def run_job_item(self: Task[[int], None], item_id: int) -> None:
    """Create one user of a job: claim the item, run its plan's remaining steps, save the
    outcome (DONE, or FAILED with the failed step's error), and finish the job when it was the
    last one. A duplicate or late delivery finds nothing to claim and returns.

    Retryable IAM errors put the item back to QUEUED and retry the task with exponential
    backoff and full jitter; the next run resumes at the failed step. So does a database error
    (a failover; SQLite's table locks in tests), or Redis away (the one-time store cannot keep a
    secret: an access key whose secret was lost is an orphan the next run deletes): every step
    is saved or reconciled on the next run, so the item is queued again rather than failed. If
    the retry cannot be sent either (the broker is that Redis), the sweeper sends it.
    """
    try:
        item = job_items.claim_item(item_id)
    except DatabaseError as error:  # nothing changed yet
        raise _retry(self, error) from error
    if item is None:
        return
    try:
        _run(self, item)
    except (DatabaseError, *cache_outage.UNAVAILABLE) as error:
        _requeue_soon(item)
        raise _retry(self, error) from error


def _run(task: Task[[int], None], item: JobItem) -> None:
    job = item.job
    plan = UserPlan.from_json(item.plan)
    gateway = IamGateway.from_settings(operator=job.operator)
    progress = job_items.ItemProgress(item)
    try:
        # The policy only shapes generated passwords: no call for the other users, and one
        # per job rather than one per user (shared by the worker processes through the cache).
        needs_policy = plan.console_access and not plan.custom_password
        policy = _job_password_policy(job.pk, gateway) if needs_policy else PasswordPolicy.iam_default()
        with gateway.changes_then_invalidate(by_job=True):
            done = provision_user(
                plan,
                gateway=gateway,
                progress=progress,
                vault=job_items.ItemVault(job, item),
                password_policy=policy,
                created_by=job_items.created_by(item),
            )
    except RETRYABLE as error:
        if task.max_retries is not None and task.request.retries >= task.max_retries:
            job_items.finish_item(item, done=False, error=error)
            return
        job_items.requeue_item(item)
        raise _retry(task, error) from error
    except IamError as error:  # outside the steps (GetAccountPasswordPolicy), not retryable
        job_items.finish_item(item, done=False, error=error)
        return
    except SoftTimeLimitExceeded:
        message = f"Stopped after {RUN_ITEM_SOFT_TIME_LIMIT} s; Retry resumes at the unfinished step."
        job_items.finish_item(item, done=False, error=IamError("TimeLimitExceeded", message))
        return
    except (DatabaseError, *cache_outage.UNAVAILABLE):
        raise
    except Exception:
        # A bug: fail the item visibly, and let Celery log the traceback.
        job_items.finish_item(
            item, done=False, error=IamError("InternalError", "Unexpected error; see the worker log.")
        )
        raise
    job_items.finish_item(item, done=done, error=progress.failure)


def _job_password_policy(job_id: Any, gateway: IamGateway) -> PasswordPolicy:
    policy = cache_outage.tolerant_cache.get_or_set(
        f"jobs:{job_id}:password-policy", gateway.get_password_policy, JOB_PASSWORD_POLICY_SECONDS
    )
    return cast(PasswordPolicy, policy)


def _requeue_soon(item: JobItem) -> None:
    """Put the item back to QUEUED, trying briefly while the database refuses; if it still does,
    the item stays RUNNING and the sweeper takes it once its heartbeat is stale."""
    for delay in (0.1, 0.2, 0.4, 0.8, None):
        try:
            job_items.requeue_item(item)
            return
        except DatabaseError:
            if delay is None:
                log.warning("job item %s left RUNNING for the sweeper", item.pk)
                return
            time.sleep(delay)


class RetryOptions(Protocol):
    """The retry options `shared_task(retry_backoff=…)` sets on a task, which celery-types
    does not declare on `Task`."""

    retry_backoff: int
    retry_backoff_max: int
    retry_jitter: bool


def _retry(task: Task[[int], None], error: Exception) -> Exception:
    """The task's retry, after `retry_backoff * 2**retries` seconds at most (full jitter)."""
    options = cast(RetryOptions, task)
    countdown = get_exponential_backoff_interval(
        factor=options.retry_backoff,
        retries=task.request.retries,
        maximum=options.retry_backoff_max,
        full_jitter=options.retry_jitter,
    )
    return task.retry(exc=error, countdown=countdown)


@shared_task
def sweep_stale_items(chain: str = "") -> int:
    """Re-send the job items a dead worker or a lost message left behind
    (`job_items.requeue_stale_items`).

    With `chain`, it runs again every JOB_SWEEP_SECONDS for as long as `chain` is the latest one
    started (by `start_sweeper`, at each connection of a worker to the broker): one chain per
    deployment, no beat.
    """
    if chain:
        if cache.get(SWEEPER_KEY) != chain:
            return 0  # a newer worker runs the sweeps now
        # The next sweep first, so that one failed sweep (the database away) does not end them.
        every = settings.JOB_SWEEP_SECONDS
        sweep_stale_items.apply_async(kwargs={"chain": chain}, countdown=every)
    ids = job_items.requeue_stale_items()
    if ids:
        enqueue(ids)
    return len(ids)


def start_sweeper() -> None:
    """Sweep now, then periodically (a new chain replaces any older one)."""
    chain = uuid.uuid4().hex
    cache.set(SWEEPER_KEY, chain, timeout=None)
    sweep_stale_items.apply_async(kwargs={"chain": chain})


class SweeperStart(bootsteps.StartStopStep):
    """`start_sweeper` each time a worker's consumer connects to the broker: at worker start, and
    again after a broker outage, which can lose the chain's next message (a Redis restarted
    without its data) or leave it unacknowledged in Redis until the visibility timeout."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def start(self, parent: Any) -> None:
        start_sweeper()


app.steps["consumer"].add(SweeperStart)


@task_prerun.connect
@task_postrun.connect
def close_old_database_connections(task: Task[..., Any], **kwargs: Any) -> None:
    """Around each task, what Django does around each request: close a connection that is past
    CONN_MAX_AGE or unusable, and check the kept one's health before its first query (the
    Celery fixup's close after every task is turned off by CELERY_DB_REUSE_MAX). Not for an
    eager task, which runs inside its caller's transaction."""
    if not task.request.is_eager:
        close_old_connections()
