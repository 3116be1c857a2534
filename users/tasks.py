"""Celery's entry points: sending job items (`enqueue`), running a chunk of them
(`run_job_items`), the sweeper, and the worker's signal handlers. They take ids, never secrets;
the work itself is in users/job_items.py and users/provisioning.py. The task names
(`users.tasks.run_job_items` …) are what queued messages carry: keep them across deploys.

A job is sent as messages of up to JOB_CHUNK_SIZE item ids. A worker process claims a
message's items with one conditional UPDATE and runs them JOB_ITEM_THREADS at a time, each in
a thread of its own (IAM calls wait on the network); their outcomes and audit rows are saved
together, about once a second. Delivery is at least once (`task_acks_late`,
`task_reject_on_worker_lost` in settings), so the claim comes before anything else, and every
IAM step is idempotent or reconciled (users/provisioning.py). The database, not the broker, is
the truth: the sweeper re-sends what a dead worker or a lost message left behind.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
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
from users.audit import AuditBuffer
from users.hygiene.keys import KeyPlan, deactivate_access_keys, is_key_plan
from users.iam.errors import IamError
from users.iam.gateway import IamGateway
from users.iam.types import PasswordPolicy
from users.models import Job, JobItem
from users.provisioning import RETRYABLE, UserPlan, provision_user

log = logging.getLogger(__name__)

PROBE_SECONDS = 300

# Well under the broker's visibility timeout (3600 s by default) and under the sweeper's
# staleness threshold (settings.JOB_ITEM_STALE_SECONDS), so that a live chunk is never run twice.
CHUNK_TIME_LIMIT = 300
CHUNK_SOFT_TIME_LIMIT = 270
# An item that IAM throttles or fails with a 5xx, ConcurrentModification or no answer is sent
# again after a countdown drawn uniformly from [0, min(60, 2 * 2**(attempts - 1))] s, and
# fails after MAX_RETRIES such retries.
RETRY_BACKOFF = 2
RETRY_BACKOFF_MAX = 60
MAX_RETRIES = 6
# A chunk saves its items' outcomes and audit rows, and looks whether its job was cancelled,
# this often.
FLUSH_SECONDS = 1.0
# Tries at saving a chunk's outcomes while the database refuses; then the sweeper takes them.
FLUSH_BACKOFF = (0.1, 0.2, 0.4, 0.8)

# A job reads the account password policy once, and again after this long (a policy changed
# meanwhile then shapes the passwords generated after that).
JOB_PASSWORD_POLICY_SECONDS = 300

SWEEPER_KEY = "jobs:sweeper-chain"

Status = JobItem.Status


@shared_task
def probe(key: str) -> None:
    """Prove the path broker → worker → IAM → cache: store the account id under `key`.

    `make run` waits for it before saying the worker is ready; the tests use it too.
    """
    cache.set(key, IamGateway.from_settings().account_info().account_id, PROBE_SECONDS)


def enqueue(item_ids: Iterable[int]) -> int:
    """Send the items as `run_job_items` messages of at most JOB_CHUNK_SIZE ids, in order and
    of even sizes; the number of items sent. If the broker fails now (it answered
    `jobs.check_queue` a moment ago), the rest stay QUEUED for the sweeper."""
    ids = list(item_ids)
    chunks = -(-len(ids) // settings.JOB_CHUNK_SIZE)
    bounds = [len(ids) * number // chunks for number in range(chunks + 1)]
    sent = 0
    try:
        with run_job_items.app.producer_or_acquire() as producer:
            for start, end in itertools.pairwise(bounds):
                run_job_items.apply_async((ids[start:end],), producer=producer)
                sent += end - start
    except (OperationalError, OSError) as error:
        log.warning("job items not queued (%s); the sweeper will queue them", error)
    return sent


@shared_task(
    bind=True,
    max_retries=MAX_RETRIES,
    retry_backoff=RETRY_BACKOFF,
    retry_backoff_max=RETRY_BACKOFF_MAX,
    retry_jitter=True,
    time_limit=CHUNK_TIME_LIMIT,
    soft_time_limit=CHUNK_SOFT_TIME_LIMIT,
)
def run_job_items(self: Task[[list[int]], None], item_ids: list[int]) -> None:
    """Create the users of these job items: claim them, run each one's remaining steps, save
    the outcomes (DONE, FAILED with the failed step's error, or QUEUED and sent again later),
    and finish the job when nothing of it is left. A duplicate or late delivery finds nothing
    to claim and returns; a claim the database refuses is retried with backoff.
    """
    try:
        claim = job_items.claim_items(item_ids)
    except DatabaseError as error:  # nothing changed yet
        raise _retry(self, error) from error
    if claim.items:
        Chunk(claim).run()


# The item threads' own state (the last look at their database connection).
_THREAD = threading.local()
CONNECTION_CHECK_SECONDS = 10.0


@functools.cache
def _item_threads(pid: int) -> ThreadPoolExecutor:
    """The threads that run job items, JOB_ITEM_THREADS of them, made in each worker process
    (`pid`: never the pool of the process it was forked from)."""
    return ThreadPoolExecutor(settings.JOB_ITEM_THREADS, thread_name_prefix="job-item")


class Chunk:
    """One message's claimed items, run JOB_ITEM_THREADS at a time (one after the other, in the
    calling thread, when it is 1: the unit tests' transactions stay visible)."""

    def __init__(self, claim: job_items.Claim) -> None:
        self.claim = claim
        self.audit = AuditBuffer()
        self.jobs = {item.job_id: item.job for item in claim.items}
        self.gateways = {
            pk: IamGateway.from_settings(operator=job.operator, audit_to=self.audit, rate_limited=True)
            for pk, job in self.jobs.items()
        }
        self.outcomes: list[job_items.Outcome] = []  # not saved yet
        self.saved = 0  # outcomes saved
        self.todo = iter(claim.items)  # handed to the threads one at a time
        self.todo_lock = threading.Lock()
        self.finished: queue.SimpleQueue[job_items.Outcome] = queue.SimpleQueue()
        self.loops: list[Future[None]] = []
        self.stop = threading.Event()  # the soft time limit: start no more items
        self.cancelled: set[uuid.UUID] = set()  # jobs found cancelled when outcomes were saved
        self.policies: dict[uuid.UUID, PasswordPolicy] = {}
        self.policy_lock = threading.Lock()
        self.flushed_at = time.monotonic()

    def run(self) -> None:
        with ExitStack() as deferred:
            for gateway in self.gateways.values():
                deferred.enter_context(gateway.changes_then_invalidate(by_job=True))
            try:
                self._run_items()
            except SoftTimeLimitExceeded:
                self.stop.set()
                for loop in self.loops:  # the items running finish; the others do not start
                    loop.result()
                while not self.finished.empty():
                    self.outcomes.append(self.finished.get())
            self._flush()

    def _run_items(self) -> None:
        if settings.JOB_ITEM_THREADS <= 1:
            for item in self.claim.items:
                self.outcomes.append(self._provision(item))
                self._flush_if_due()
            return
        threads = _item_threads(os.getpid())
        count = min(settings.JOB_ITEM_THREADS, len(self.claim.items))
        self.loops = [threads.submit(self._thread_loop) for _ in range(count)]
        for _ in self.claim.items:
            while True:
                try:
                    self.outcomes.append(self.finished.get(timeout=FLUSH_SECONDS))
                    break
                except queue.Empty:
                    for loop in self.loops:
                        if loop.done():
                            loop.result()  # a loop that ended early raises its error here
                finally:
                    self._flush_if_due()

    def _thread_loop(self) -> None:
        """In one of the item threads: run the chunk's next item until none is left."""
        while True:
            with self.todo_lock:
                item = next(self.todo, None)
            if item is None:
                return
            self.finished.put(self._in_thread(item))

    def _in_thread(self, item: JobItem) -> job_items.Outcome:
        """`_provision` in one of the item threads. Each keeps its database connection as a
        request's thread does (closed past CONN_MAX_AGE or once unusable, checked before its
        next use), but looks at most every CONNECTION_CHECK_SECONDS, or after a database
        error: each look costs the next query a health check, a round trip."""
        last_check = getattr(_THREAD, "connection_checked", -CONNECTION_CHECK_SECONDS)
        if time.monotonic() - last_check >= CONNECTION_CHECK_SECONDS:
            close_old_connections()
            _THREAD.connection_checked = time.monotonic()
        outcome = self._provision(item)
        if outcome.database_error:
            close_old_connections()
        return outcome

    def _provision(self, item: JobItem) -> job_items.Outcome:
        """Run one item's remaining steps; how it ended."""
        if self.stop.is_set() or item.job_id in self.cancelled:
            return job_items.Outcome(item, Status.QUEUED, retry_in=0)
        job, gateway = self.jobs[item.job_id], self.gateways[item.job_id]
        progress = job_items.ItemProgress(item)
        try:
            if is_key_plan(item.plan):  # a job of the access-key hygiene page (users/hygiene/)
                done = deactivate_access_keys(KeyPlan.from_json(item.plan), gateway=gateway, progress=progress)
                return job_items.Outcome(item, Status.DONE if done else Status.FAILED, progress.failure)
            plan = UserPlan.from_json(item.plan)
            # The policy only shapes generated passwords: no call for the other users, and one
            # per job rather than one per user (shared by the worker processes through the cache).
            needs_policy = plan.console_access and not plan.custom_password
            policy = self._password_policy(job, gateway) if needs_policy else PasswordPolicy.iam_default()
            done = provision_user(
                plan,
                gateway=gateway,
                progress=progress,
                vault=job_items.ItemVault(job, item),
                password_policy=policy,
                created_by=job_items.created_by(item),
            )
        except RETRYABLE as error:
            if item.attempts > MAX_RETRIES:
                return job_items.Outcome(item, Status.FAILED, error)
            return job_items.Outcome(item, Status.QUEUED, error, retry_in=_backoff(item.attempts))
        except IamError as error:  # outside the steps (GetAccountPasswordPolicy), not retryable
            return job_items.Outcome(item, Status.FAILED, error)
        except SoftTimeLimitExceeded:  # one thread only: the signal interrupts this item
            self.stop.set()
            message = f"Stopped after {CHUNK_SOFT_TIME_LIMIT} s; Retry resumes at the unfinished step."
            return job_items.Outcome(item, Status.FAILED, IamError("TimeLimitExceeded", message))
        except (DatabaseError, *cache_outage.UNAVAILABLE) as error:
            # The database or Redis away: every step is saved or reconciled on the next run (an
            # access key whose secret was lost is an orphan it deletes), so queue it again.
            log.warning("job item %s queued again: %s", item.pk, error)
            broken = isinstance(error, DatabaseError)
            return job_items.Outcome(item, Status.QUEUED, retry_in=_backoff(item.attempts), database_error=broken)
        except Exception:
            log.exception("job item %s failed", item.pk)  # a bug: fail the item visibly
            internal = IamError("InternalError", "Unexpected error; see the worker log.")
            return job_items.Outcome(item, Status.FAILED, internal)
        return job_items.Outcome(item, Status.DONE if done else Status.FAILED, progress.failure)

    def _password_policy(self, job: Job, gateway: IamGateway) -> PasswordPolicy:
        with self.policy_lock:
            if job.pk not in self.policies:
                policy = cache_outage.tolerant_cache.get_or_set(
                    f"jobs:{job.pk}:password-policy", gateway.get_password_policy, JOB_PASSWORD_POLICY_SECONDS
                )
                self.policies[job.pk] = cast(PasswordPolicy, policy)
            return self.policies[job.pk]

    def _flush_if_due(self) -> None:
        if time.monotonic() - self.flushed_at >= FLUSH_SECONDS:
            self._flush()

    def _flush(self) -> None:
        """Save the audit rows, then the outcomes so far, and beat the heartbeat of the items
        still to come (trying again briefly while the database refuses; if it still does, the
        items stay RUNNING for the sweeper); make the changes visible to the users list, and
        send again the items queued again."""
        self.flushed_at = time.monotonic()
        outcomes, self.outcomes = self.outcomes, []
        finished: set[uuid.UUID] = set()
        for delay in (*FLUSH_BACKOFF, None):
            try:
                self.audit.flush()
                cancelled, finished = job_items.save_outcomes(self.claim, outcomes)
                self.cancelled |= cancelled
                if self.saved + len(outcomes) < len(self.claim.items):
                    job_items.beat(self.claim)
                break
            except DatabaseError:
                if delay is None:
                    log.warning("job items %s left RUNNING for the sweeper", [o.item.pk for o in outcomes])
                    return
                time.sleep(delay)
        self.saved += len(outcomes)
        for gateway in self.gateways.values():
            gateway.invalidate_deferred(by_job=True)
        for job_id in finished:  # its changes show on every page now, not within the lag
            self.gateways[job_id].invalidate_all()
        _send_again([o for o in outcomes if o.item.status == Status.QUEUED])


def _send_again(outcomes: Sequence[job_items.Outcome]) -> None:
    """Send the items queued again: those due now (not started, or a backoff of 0 drawn)
    together; each other retry after its own backoff. If the broker does not answer, the
    sweeper sends them."""
    unstarted = [outcome.item.pk for outcome in outcomes if not outcome.retry_in]
    try:
        if unstarted:
            run_job_items.apply_async((unstarted,))
        for outcome in outcomes:
            if outcome.retry_in:
                run_job_items.apply_async(([outcome.item.pk],), countdown=outcome.retry_in)
    except (OperationalError, OSError) as error:
        log.warning("job items not queued again (%s); the sweeper will queue them", error)


def _backoff(attempts: int) -> float:
    """Seconds before an item's next attempt: exponential in its attempts, full jitter."""
    return float(
        get_exponential_backoff_interval(
            factor=RETRY_BACKOFF, retries=attempts - 1, maximum=RETRY_BACKOFF_MAX, full_jitter=True
        )
    )


class RetryOptions(Protocol):
    """The retry options `shared_task(retry_backoff=…)` sets on a task, which celery-types
    does not declare on `Task`."""

    retry_backoff: int
    retry_backoff_max: int
    retry_jitter: bool


def _retry(task: Task[[list[int]], None], error: Exception) -> Exception:
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
