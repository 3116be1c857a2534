"""Jobs (users/jobs.py), their task (users/tasks.py) and their pages (users/views/jobs.py), on
moto's in-process IAM. Items run synchronously through the task's own function
(`run_job_items.run`, one item after the other: JOB_ITEM_THREADS is 1 in tests/settings.py), never in
Celery's eager mode; tests/integration runs real workers, with item threads."""

from __future__ import annotations

import base64
import html
import json
import re
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, cast
from urllib.parse import quote, unquote

import pytest
from celery.exceptions import Retry
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.faults import inject, instant_retries
from users import credentials, job_items, jobs, retrievals, tasks
from users.exports import CSV_HEADER
from users.iam.errors import AccessDenied
from users.iam.gateway import IamGateway
from users.models import AuditEvent, Job, JobItem
from users.provisioning import UserPlan, provision_user
from users.tasks import MAX_RETRIES, RETRY_BACKOFF, RetryOptions, run_job_items, start_sweeper, sweep_stale_items

if TYPE_CHECKING:
    from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteDatabaseWrapper

CUSTOM = "Custom-Passw0rd!canary"
Status = JobItem.Status


@pytest.fixture(autouse=True)
def queue_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """The broker answers (unit tests never reach it: on_commit does not fire in them)."""
    monkeypatch.setattr(jobs, "check_queue", lambda: None)


def _start(operator, *plans: UserPlan, custom_password: str | None = None, client: Client | None = None) -> Job:
    """start_job, bound to `client`'s session as the wizard binds it to the request's."""
    session = client.session if client else None
    job = jobs.start_job(
        operator=operator,
        source=Job.Source.WIZARD,
        plans=list(plans),
        custom_password=custom_password,
        session=session,
    )
    if session is not None:
        session.save()
    return job


def _run(job: Job) -> None:
    run_job_items.run(list(job.items.values_list("id", flat=True)))


def _both(name: str, **kwargs) -> UserPlan:
    return UserPlan(user_name=name, console_access=True, programmatic_access=True, **kwargs)


def _secrets(job: Job) -> dict[str, dict[str, str]]:
    items = [job_items.CUSTOM_PASSWORD_ITEM]
    for name in job.items.values_list("user_name", flat=True):
        items += [job_items.password_item(name), job_items.access_key_item(name)]
    return credentials.take_batch(batch=str(job.id), operator_id=job.operator_id, items=items)


def _database_text() -> str:
    rows = [*Job.objects.values(), *JobItem.objects.values(), *AuditEvent.objects.values()]
    return json.dumps(rows, default=str)


def _variants(secret: str) -> list[str]:
    return [secret, base64.b64encode(secret.encode()).decode(), quote(secret, safe=""), json.dumps(secret)[1:-1]]


@pytest.fixture
def other_client(django_user_model) -> Client:
    """Carol, another operator."""
    from django.contrib.auth.models import Group

    from users.roles import OPERATORS

    carol = django_user_model.objects.create_user("carol", password="correct horse battery staple")
    carol.groups.add(Group.objects.get(name=OPERATORS))
    client = Client()
    client.force_login(carol)
    return client


@pytest.fixture
def finished(iam: IamGateway, operator, operator_client) -> Job:
    """A finished job of `operator_client`'s session: ann (console + key, custom password), bob
    (key only)."""
    job = _start(
        operator,
        _both("ann", custom_password=True),
        UserPlan(user_name="bob", programmatic_access=True),
        custom_password=CUSTOM,
        client=operator_client,
    )
    _run(job)
    return job


# --- start_job -------------------------------------------------------------------------------


def test_it_creates_a_job_with_an_item_per_plan(iam, operator) -> None:
    plans = [UserPlan(user_name="ann", groups=("devs",)), UserPlan(user_name="bob", programmatic_access=True)]
    job = _start(operator, *plans)
    assert (job.operator, job.source, job.account_id) == (operator, "wizard", "123456789012")
    assert job.sign_in_url == "https://123456789012.signin.aws.amazon.com/console"
    items = list(job.items.all())
    assert [(i.position, i.user_name, i.status) for i in items] == [(0, "ann", "queued"), (1, "bob", "queued")]
    assert [UserPlan.from_json(i.plan) for i in items] == plans


def test_a_finished_jobs_users_show_in_the_users_index_at_once(iam, operator) -> None:
    """While a job runs, the cached users index shows its changes within JOB_CHANGE_LAG_SECONDS;
    once it has finished, at once (a page opened after the job, e.g. the hygiene page after a
    Deactivate, must not show what was before it)."""
    assert iam.user_index() == []  # cached
    _run(_start(operator, UserPlan(user_name="ann"), UserPlan(user_name="bob")))
    assert [user.name for user in iam.user_index()] == ["ann", "bob"]


def test_it_keeps_the_custom_password_only_in_the_one_time_store(iam, operator) -> None:
    job = _start(operator, _both("ann", custom_password=True), custom_password=CUSTOM)
    stored = credentials.take(batch=str(job.id), operator_id=operator.id, item=job_items.CUSTOM_PASSWORD_ITEM)
    assert stored == {"password": CUSTOM}
    _run(job)
    text = _database_text()
    assert all(variant not in text for variant in _variants(CUSTOM))


def test_it_queues_item_ids_only_when_the_transaction_commits(
    iam, operator, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    sent = []
    monkeypatch.setattr(run_job_items, "apply_async", lambda args, **kwargs: sent.append((args, kwargs)))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = _start(operator, _both("ann", custom_password=True), _both("bob"), custom_password=CUSTOM)
    assert sent == []
    for callback in callbacks:
        callback()
    assert [args for args, _ in sent] == [(list(job.items.values_list("id", flat=True)),)]
    assert all(set(kwargs) == {"producer"} for _, kwargs in sent)


def test_it_sends_a_big_job_as_a_few_even_chunks_in_order(iam, operator, monkeypatch, settings) -> None:
    sent: list[list[int]] = []
    monkeypatch.setattr(run_job_items, "apply_async", lambda args, **kwargs: sent.append(args[0]))
    settings.JOB_CHUNK_SIZE = 25
    assert tasks.enqueue(range(60)) == 60
    assert sent == [list(range(0, 20)), list(range(20, 40)), list(range(40, 60))]
    sent.clear()
    assert tasks.enqueue(range(25)) == 25 and sent == [list(range(25))]


def test_it_creates_nothing_when_the_broker_is_down(iam, operator, monkeypatch) -> None:
    monkeypatch.undo()  # the real check_queue
    # Only the write URL (what publishing uses): it falls back to broker_url when unset. As an
    # item, so that undoing it unsets it again (the attribute reads the fallback, which
    # setattr's undo would then leave set for the rest of the session).
    monkeypatch.setitem(run_job_items.app.conf, "broker_write_url", "redis://127.0.0.1:1/0")
    with pytest.raises(jobs.JobQueueUnavailable):
        _start(operator, _both("ann", custom_password=True), custom_password=CUSTOM)
    assert not Job.objects.exists() and not JobItem.objects.exists()
    assert iam.list_users() == []


def test_it_answers_503_when_the_broker_is_down_at_retry(iam, operator, operator_client, monkeypatch) -> None:
    job = _start(operator, UserPlan(user_name="ann", groups=("missing",)))
    _run(job)

    def down() -> None:
        raise jobs.JobQueueUnavailable

    monkeypatch.setattr(jobs, "check_queue", down)
    response = operator_client.post(reverse("users:job_retry", args=[job.id]))
    assert response.status_code == 503
    assert "The job queue is not available; nothing was changed." in response.content.decode()
    assert job.items.get().status == Status.FAILED


# --- The task --------------------------------------------------------------------------------


def test_it_creates_the_users_and_finishes_the_job(iam, operator) -> None:
    iam.create_group("devs")
    job = _start(operator, _both("ann", groups=("devs",)), UserPlan(user_name="bob"))
    _run(job)
    job.refresh_from_db()
    assert job.finished_at is not None
    assert jobs.job_counts(job) == jobs.JobCounts(done=2)
    ann = job.items.get(user_name="ann")
    assert ann.has_password and ann.access_key_id.startswith("AKIA")
    assert [k.access_key_id for k in iam.list_access_keys("ann")] == [ann.access_key_id]
    assert [(s["step"], s["status"]) for s in ann.steps] == [
        ("CreateUser", "done"),
        ("CreateLoginProfile", "done"),
        ("AddUserToGroup:devs", "done"),
        ("CreateAccessKey", "done"),
    ]
    assert (ann.attempts, ann.error_code) == (1, "")
    assert sorted(u.name for u in iam.list_users()) == ["ann", "bob"]


def test_it_saves_a_chunks_progress_in_a_few_queries(iam, operator) -> None:
    """One claim (UPDATE, SELECT), then together: the audit rows, the outcomes and the job-done
    check. Steps' starts and successes wait for that save, so a user costs no query of its own
    (docs/PERFORMANCE.md)."""
    iam.create_group("devs")
    job = _start(operator, *(_both(f"user-{number}", groups=("devs",)) for number in range(11)))
    first, *others = job.items.values_list("id", flat=True)

    def statements(item_ids: list[int]) -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            run_job_items.run(item_ids)
        return [query["sql"].split()[0] for query in queries.captured_queries]

    one, ten = statements([first]), statements(others)
    assert one == ["UPDATE", "SELECT", "INSERT", "SELECT", "UPDATE", "SELECT"], one
    assert len(ten) == len(one) + 2, ten  # + the job finished: stamped, its secrets' TTL cut
    assert one.count("INSERT") == ten.count("INSERT") == 1  # the audit rows, 4 and 40
    assert AuditEvent.objects.filter(action="CreateUser").count() == 11
    assert jobs.job_counts(job) == jobs.JobCounts(done=11)
    item = job.items.get(pk=first)
    assert item.has_password and item.access_key_id and [s["status"] for s in item.steps] == ["done"] * 4


def test_it_runs_an_item_once_however_often_it_is_delivered(iam, operator) -> None:
    job = _start(operator, _both("ann"))
    _run(job)
    _run(job)
    item = job.items.get()
    assert item.attempts == 1
    assert len(iam.list_access_keys("ann")) == 1


def test_it_fails_an_item_at_the_failed_step_and_goes_on_with_the_others(iam, operator) -> None:
    iam.create_group("devs")
    job = _start(operator, _both("ann", groups=("devs",)), UserPlan(user_name="bob"))
    with inject(iam, "AddUserToGroup", "AccessDenied", status=403, message="Not allowed to add users"):
        _run(job)
    ann, bob = job.items.all()
    assert (ann.status, ann.error_code, ann.error_message) == ("failed", "AccessDenied", "Not allowed to add users")
    assert [(s["step"], s["status"]) for s in ann.steps] == [
        ("CreateUser", "done"),
        ("CreateLoginProfile", "done"),
        ("AddUserToGroup:devs", "failed"),
    ]
    assert ann.steps[-1]["request_id"].startswith("fault-AddUserToGroup")
    assert bob.status == "done"
    job.refresh_from_db()
    assert job.finished_at is not None
    counts = jobs.job_counts(job)
    assert (counts.is_finished, counts.all_done, counts.failed, counts.percent) == (True, False, 1, 100)


def test_it_puts_an_item_back_in_the_queue_and_sends_it_again_after_a_backoff(iam, operator, monkeypatch) -> None:
    job = _start(operator, UserPlan(user_name="ann"), UserPlan(user_name="bob"))
    ann, bob = job.items.all()
    JobItem.objects.filter(pk=ann.pk).update(attempts=2)  # its third attempt
    sent = []
    monkeypatch.setattr(run_job_items, "apply_async", lambda args, **kwargs: sent.append((args, kwargs)))
    with instant_retries(), inject(iam, "CreateUser", "Throttling", times=6):  # ann's, all of them
        _run(job)
    ann.refresh_from_db()
    assert (ann.status, ann.error_code, ann.attempts) == ("queued", "Throttling", 3)
    assert job.items.get(pk=bob.pk).status == "done"
    [((ids,), options)] = sent
    assert ids == [ann.pk] and 0 <= options.get("countdown", 0) <= RETRY_BACKOFF * 2**2  # none: 0 drawn
    run_job_items.run(ids)  # the retry: resumes and finishes
    ann.refresh_from_db()
    assert (ann.status, ann.attempts) == ("done", 4)
    job.refresh_from_db()
    assert job.finished_at is not None


def test_it_fails_an_item_when_the_retries_are_spent(iam, operator, monkeypatch) -> None:
    job = _start(operator, UserPlan(user_name="ann"))
    JobItem.objects.update(attempts=MAX_RETRIES)
    sent = []
    monkeypatch.setattr(run_job_items, "apply_async", lambda args, **kwargs: sent.append(args))
    with instant_retries(), inject(iam, "CreateUser", "Throttling", times=100):
        _run(job)
    item = job.items.get()
    assert (item.status, item.error_code) == ("failed", "Throttling")
    assert sent == []


def test_it_retries_a_claim_the_database_refuses(iam, operator, monkeypatch) -> None:
    job = _start(operator, UserPlan(user_name="ann"))
    retried = {}

    def retry(**kwargs):
        retried.update(kwargs)
        return Retry()

    def refuse(item_ids):
        raise DatabaseError("the database is away")

    monkeypatch.setattr(run_job_items, "retry", retry)
    monkeypatch.setattr(job_items, "claim_items", refuse)
    run_job_items.push_request(  # type: ignore[call-arg]  # takes Context fields, not the task's args
        retries=2, called_directly=False
    )
    try:
        with pytest.raises(Retry):
            _run(job)
    finally:
        run_job_items.pop_request()
    assert isinstance(retried["exc"], DatabaseError)
    assert 0 <= retried["countdown"] <= RETRY_BACKOFF * 2**2
    assert job.items.get().status == "queued"


# --- Progress and Vault ----------------------------------------------------------------------


def test_it_records_each_attempt_of_a_step_and_beats_the_heartbeat(iam, operator) -> None:
    job = _start(operator, UserPlan(user_name="ann"))
    claim = job_items.claim_items([job.items.get().pk])
    [item] = claim.items
    progress = job_items.ItemProgress(item)
    assert not progress.is_done("CreateUser") and progress.started_at("CreateUser") is None
    progress.start("CreateUser", durable=False)
    first = progress.started_at("CreateUser")
    assert first is not None
    progress.fail("CreateUser", AccessDenied("AccessDenied", "No", request_id="r-1"))
    progress.start("CreateUser", durable=False)
    again = progress.started_at("CreateUser")
    assert again is not None and again > first
    saved = JobItem.objects.get(pk=item.pk)
    assert [(s["step"], s["status"]) for s in saved.steps] == [("CreateUser", "failed")]  # not yet
    progress.start("CreateAccessKey", durable=True)
    progress.succeed("CreateAccessKey", access_key_id="AKIAEXAMPLE")
    saved = JobItem.objects.get(pk=item.pk)
    assert [(s["step"], s["status"]) for s in saved.steps] == [("CreateUser", "failed")]  # not yet
    assert saved.access_key_id == ""
    job_items.save_outcomes(claim, [job_items.Outcome(item, Status.FAILED, progress.failure)])  # it all
    saved = JobItem.objects.get(pk=item.pk)
    assert [(s["step"], s["status"]) for s in saved.steps] == [
        ("CreateUser", "failed"),
        ("CreateUser", "started"),
        ("CreateAccessKey", "done"),
    ]
    assert saved.steps[0]["request_id"] == "r-1"
    assert (saved.status, saved.error_code) == ("failed", "AccessDenied")
    assert saved.access_key_id == "AKIAEXAMPLE" and saved.heartbeat_at is not None
    assert not progress.is_done("CreateUser") and progress.is_done("CreateAccessKey")


def test_a_run_that_died_leaves_its_item_interrupted_and_the_next_run_assumes_its_steps_started(
    iam, operator, monkeypatch
) -> None:
    """A durable start (CreateAccessKey) is not written: the next claim of an item its run
    left RUNNING marks it interrupted, and any step not done then counts as maybe started, so
    the orphan key such a run may have made is looked for. A run that saved its outcome, or
    an item never run, marks nothing."""
    job = _start(operator, _both("ann"), _both("bob"))
    ann, bob = job.items.all()
    first = job_items.claim_items([ann.pk, bob.pk])  # then the worker is killed
    assert [i.interrupted for i in first.items] == [False, False]  # a first claim
    JobItem.objects.filter(pk=ann.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert [i.interrupted for i in job_items.claim_items([ann.pk, bob.pk]).items] == [True]  # bob is live
    progress = job_items.ItemProgress(job.items.get(pk=ann.pk))
    assert progress.started_at("CreateAccessKey") is not None and progress.started_at("CreateUser") is not None

    JobItem.objects.filter(pk=bob.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    monkeypatch.setattr(tasks, "enqueue", lambda ids: None)
    assert sweep_stale_items.run() == 1  # the sweeper queues bob again: interrupted too
    assert job.items.get(pk=bob.pk).interrupted
    JobItem.objects.filter(pk=ann.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    _run(job)  # both resume, and each deletes what an earlier attempt may have left
    assert jobs.job_counts(job) == jobs.JobCounts(done=2)
    assert not job.items.filter(interrupted=True).exists()  # saved with the outcome
    assert all(len(iam.list_access_keys(name)) == 1 for name in ("ann", "bob"))


def test_it_keeps_secrets_add_only_in_the_store(iam, operator) -> None:
    job = _start(operator, _both("ann", custom_password=True), custom_password=CUSTOM)
    item = job.items.get()
    vault = job_items.ItemVault(job, item)
    assert vault.password() is None and vault.held_access_key_id() is None
    vault.keep_password("first-Passw0rd!")
    vault.keep_password("second-Passw0rd!")
    vault.keep_access_key("AKIAFIRST", "secret/one+")
    vault.keep_access_key("AKIASECOND", "secret/two+")
    assert vault.password() == "first-Passw0rd!"
    assert vault.held_access_key_id() == "AKIAFIRST"
    assert vault.custom_password() == CUSTOM
    assert item.has_password  # saved with the item's progress
    # A run killed between the store and the flag: the next run finds the password, flags it.
    resumed = job.items.get()
    assert not resumed.has_password
    assert job_items.ItemVault(job, resumed).password() == "first-Passw0rd!"
    claim = job_items.Claim(uuid.uuid4(), [resumed])
    JobItem.objects.filter(pk=resumed.pk).update(status=Status.RUNNING, claim=claim.token)  # as claimed
    job_items.save_outcomes(claim, [job_items.Outcome(resumed, Status.FAILED)])
    assert job.items.get().has_password
    credentials.discard(batch=str(job.id), items=[job_items.CUSTOM_PASSWORD_ITEM])
    with pytest.raises(credentials.CredentialsGone):
        vault.custom_password()


# --- The Success page and the CSV ------------------------------------------------------------


def test_it_shows_the_secrets_once_on_a_no_store_page(finished, operator_client) -> None:
    secrets = _secrets(finished)
    response = operator_client.get(reverse("users:job_credentials", args=[finished.id]))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    page = response.content.decode()
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.unescape(page)))
    assert (
        "Success You successfully created the users shown below. You can view and download user security "
        "credentials. You can also email users instructions for signing in to the AWS Management Console. This "
        "is the last time these credentials will be available to download. However, you can create new "
        "credentials at any time." in text
    )
    url = "https://123456789012.signin.aws.amazon.com/console"
    assert f"Users with AWS Management Console access can sign-in at: {url}" in text
    assert "IAM Users Add user" in text
    shown = [
        secrets["password:ann"]["password"],
        secrets["access-key:ann"]["secret_access_key"],
        secrets["access-key:bob"]["secret_access_key"],
    ]
    for secret in shown:
        assert page.count(html.escape(secret)) == 1
    assert secrets["password:ann"]["password"] == CUSTOM
    assert page.count(">********<") == 3 and page.count(">Show<") == 3
    assert "js/credentials.js" in page and "<script>" not in page


def test_it_downloads_the_csv_with_the_stored_secrets_byte_exact(finished, operator_client) -> None:
    secrets = _secrets(finished)
    response = operator_client.get(reverse("users:job_credentials_csv", args=[finished.id]))
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="credentials.csv"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]
    url = "https://123456789012.signin.aws.amazon.com/console"
    ann, bob = secrets["access-key:ann"], secrets["access-key:bob"]
    assert b"".join(response.streaming_content).decode() == (
        ",".join(CSV_HEADER) + "\n"
        f"ann,{CUSTOM},{ann['access_key_id']},{ann['secret_access_key']},{url}\n"
        f"bob,,{bob['access_key_id']},{bob['secret_access_key']},{url}\n"
    )


def test_it_offers_the_sign_in_email_only_to_console_users_without_a_password(finished, operator_client) -> None:
    page = operator_client.get(reverse("users:job_credentials", args=[finished.id])).content.decode()
    links = [html.unescape(link) for link in re.findall(r'href="(mailto:[^"]+)"', page)]
    assert len(links) == 1
    body = unquote(links[0])
    assert "User name: ann" in body and "ending in 9012" in body
    assert CUSTOM not in body and CUSTOM not in links[0] and quote(CUSTOM, safe="") not in links[0]


def test_it_forgets_the_secrets_on_close(finished, operator_client) -> None:
    response = operator_client.post(reverse("users:job_close", args=[finished.id]))
    assert response.status_code == 302 and response["Location"] == reverse("users:list")
    assert response["Clear-Site-Data"] == '"cache"'
    assert _secrets(finished) == {}
    finished.refresh_from_db()
    assert finished.credentials_closed_at is not None
    for name in ("users:job_credentials", "users:job_credentials_csv"):
        gone = operator_client.get(reverse(name, args=[finished.id]))
        assert gone.status_code == 410
        assert "These credentials are no longer available." in gone.content.decode()
        assert "no-store" in gone["Cache-Control"]
    event = AuditEvent.objects.get(action="CloseCredentials")
    assert CUSTOM not in json.dumps(event.parameters)


def test_it_audits_the_credentials_page_and_csv_without_a_secret(finished, operator_client) -> None:
    secret = _secrets(finished)["access-key:bob"]["secret_access_key"]
    assert operator_client.get(reverse("users:job_credentials", args=[finished.id])).status_code == 200
    csv_response = operator_client.get(reverse("users:job_credentials_csv", args=[finished.id]))
    assert b"".join(csv_response.streaming_content)
    expected = {"kind": "job-credentials", "job_id": str(finished.id), "users": 2}
    for action in (retrievals.SHOW, retrievals.DOWNLOAD_CSV):
        [event] = AuditEvent.objects.filter(action=action)
        assert (event.target, event.outcome, event.parameters) == (f"job {finished.id}", "success", expected)
    text = _database_text()
    assert all(variant not in text for variant in (*_variants(CUSTOM), *_variants(secret)))


def test_it_audits_secrets_found_expired_once_and_not_after_close(finished, operator_client) -> None:
    names = ["password:ann", "access-key:ann", "access-key:bob"]
    credentials.discard(batch=str(finished.id), items=names)  # their time ran out
    for name in ("users:job_credentials", "users:job_credentials", "users:job_credentials_csv"):
        assert operator_client.get(reverse(name, args=[finished.id])).status_code == 410
    [expired] = AuditEvent.objects.filter(action=retrievals.EXPIRED)
    assert (expired.target, expired.outcome) == (f"job {finished.id}", "failure")
    assert not AuditEvent.objects.filter(action__in=[retrievals.SHOW, retrievals.DOWNLOAD_CSV]).exists()


def test_closed_credentials_are_not_recorded_as_expired(finished, operator_client) -> None:
    operator_client.post(reverse("users:job_close", args=[finished.id]))
    assert operator_client.get(reverse("users:job_credentials", args=[finished.id])).status_code == 410
    assert not AuditEvent.objects.filter(action=retrievals.EXPIRED).exists()


def test_it_answers_410_for_expired_or_tampered_secrets(finished, operator_client) -> None:
    url = reverse("users:job_credentials", args=[finished.id])
    for name in ("password:ann", "access-key:ann", "access-key:bob"):
        key = credentials._cache_key(str(finished.id), name)
        cache.set(key, cache.get(key)[:-8] + "AAAAAAA=")
    assert operator_client.get(url).status_code == 410
    credentials.discard(batch=str(finished.id), items=["password:ann", "access-key:ann", "access-key:bob"])
    assert operator_client.get(url).status_code == 410


def test_it_marks_a_single_expired_secret_and_shows_the_rest(finished, operator_client) -> None:
    credentials.discard(batch=str(finished.id), items=["access-key:bob"])
    response = operator_client.get(reverse("users:job_credentials", args=[finished.id]))
    assert response.status_code == 200
    assert "No longer available" in response.content.decode()


def test_it_hides_a_job_from_another_operator(finished, other_client) -> None:
    for name in ("job_detail", "job_progress", "job_credentials", "job_credentials_csv"):
        assert other_client.get(reverse(f"users:{name}", args=[finished.id])).status_code == 404
    for name in ("job_close", "job_retry", "job_cancel"):
        assert other_client.post(reverse(f"users:{name}", args=[finished.id])).status_code == 404
    assert _secrets(finished) != {}


def test_it_shows_the_secrets_only_to_the_session_that_started_the_job(finished, operator) -> None:
    again = Client()
    again.force_login(operator)  # the same operator, signed in elsewhere
    for name in ("users:job_credentials", "users:job_credentials_csv"):
        assert again.get(reverse(name, args=[finished.id])).status_code == 404
    page = again.get(reverse("users:job_detail", args=[finished.id])).content.decode()
    assert 'data-forward="false"' in page and 'data-testid="credentials-link"' not in page


def test_it_lets_only_the_session_that_started_the_job_close_its_secrets(finished, operator) -> None:
    again = Client()
    again.force_login(operator)  # the same operator, signed in elsewhere
    assert again.post(reverse("users:job_close", args=[finished.id])).status_code == 404
    assert _secrets(finished) != {}
    finished.refresh_from_db()
    assert finished.credentials_closed_at is None
    assert not AuditEvent.objects.filter(action="CloseCredentials").exists()


def test_it_refuses_the_actions_to_a_viewer(finished, viewer_client) -> None:
    for name in ("job_close", "job_retry", "job_cancel"):
        assert viewer_client.post(reverse(f"users:{name}", args=[finished.id])).status_code == 403
    assert _secrets(finished) != {}


def test_it_changes_nothing_on_a_get_to_an_action(finished, operator_client) -> None:
    for name in ("job_close", "job_retry", "job_cancel"):
        assert operator_client.get(reverse(f"users:{name}", args=[finished.id])).status_code == 405
    assert _secrets(finished) != {}


def test_it_requires_the_csrf_token_on_close(finished, operator) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    assert client.post(reverse("users:job_close", args=[finished.id])).status_code == 403
    assert _secrets(finished) != {}


# --- The progress page, Retry and Cancel -----------------------------------------------------


def test_it_reports_progress_as_json(iam, operator, operator_client) -> None:
    job = _start(operator, UserPlan(user_name="ann"), UserPlan(user_name="bob"))
    url = reverse("users:job_progress", args=[job.id])
    data = operator_client.get(url).json()
    assert (data["queued"], data["done"], data["percent"], data["finished"]) == (2, 0, 0, False)
    first = job.items.first()
    assert first is not None
    run_job_items.run([first.id])
    with CaptureQueriesContext(connection) as queries:
        data = operator_client.get(url).json()
    assert (data["queued"], data["done"], data["percent"], data["finished"]) == (1, 1, 50, False)
    assert [item["status"] for item in data["items"]] == ["done", "queued"]
    # The counts and one page of items, their ids and statuses only, whatever the page's size.
    sql = [query["sql"] for query in queries.captured_queries]
    selects = [text for text in sql if text.startswith("SELECT") and "users_jobitem" in text]
    assert len(selects) == 3, selects  # the counts, the paginator's count, the page
    assert '"plan"' not in selects[-1] and '"steps"' not in selects[-1]


def test_it_shows_what_was_done_and_what_was_not_for_a_failed_user(iam, operator, operator_client) -> None:
    plan = _both("ann", groups=("missing",), policy_arns=("arn:aws:iam::aws:policy/ReadOnlyAccess",))
    job = _start(operator, plan, client=operator_client)
    _run(job)
    response = operator_client.get(reverse("users:job_detail", args=[job.id]))
    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-finished="true"' in page and "js/job_progress.js" in page and "<script>" not in page
    steps = re.findall(r'data-step-status="([a-z ]+)"', page)
    assert steps == ["done", "done", "failed", "not run", "not run"]
    assert "NoSuchEntity" in page and "missing" in page
    # Each step that ran shows its time, and the user its total.
    assert len(re.findall(r"data-step-seconds>\d+\.\d\d s<", page)) == 3
    assert re.search(r"data-item-time>\d+\.\d s<", page)
    assert 'data-testid="job-retry"' in page and 'data-testid="job-cancel"' not in page
    assert reverse("users:job_credentials", args=[job.id]) in page  # ann's password is retrievable


def test_it_moves_a_finished_job_on_to_its_success_page(finished, operator_client) -> None:
    page = operator_client.get(reverse("users:job_detail", args=[finished.id])).content.decode()
    assert 'data-finished="true" data-forward="true"' in page
    assert 'data-testid="credentials-link"' in page  # without JavaScript, a link
    operator_client.post(reverse("users:job_close", args=[finished.id]))
    page = operator_client.get(reverse("users:job_detail", args=[finished.id])).content.decode()
    assert 'data-forward="false"' in page and 'data-testid="credentials-link"' not in page


def test_it_polls_while_the_job_runs_and_offers_cancel(iam, operator, operator_client) -> None:
    job = _start(operator, UserPlan(user_name="ann"))
    page = operator_client.get(reverse("users:job_detail", args=[job.id])).content.decode()
    assert 'data-finished="false"' in page
    assert f'data-progress-url="{reverse("users:job_progress", args=[job.id])}?page=1"' in page
    assert f'data-credentials-url="{reverse("users:job_credentials", args=[job.id])}"' in page
    assert 'data-testid="job-cancel"' in page and 'data-testid="job-retry"' not in page


def test_it_retries_only_the_failed_items_and_finishes_them(iam, operator, operator_client) -> None:
    job = _start(operator, _both("ann", groups=("devs",)), _both("bob"))
    _run(job)
    ann, bob = job.items.all()
    assert (ann.status, bob.status) == ("failed", "done")
    iam.create_group("devs")
    response = operator_client.post(reverse("users:job_retry", args=[job.id]))
    assert response.status_code == 302
    ann.refresh_from_db()
    assert (ann.status, ann.error_code) == ("queued", "")
    job.refresh_from_db()
    assert job.finished_at is None
    _run(job)
    ann.refresh_from_db()
    bob.refresh_from_db()
    assert (ann.status, ann.attempts, bob.attempts) == ("done", 2, 1)
    assert [(s["step"], s["status"]) for s in ann.steps][-3:] == [
        ("AddUserToGroup:devs", "failed"),
        ("AddUserToGroup:devs", "done"),
        ("CreateAccessKey", "done"),
    ]
    assert [g.name for g in iam.list_groups_for_user("ann")] == ["devs"]
    assert len(iam.list_access_keys("ann")) == 1 and len(iam.list_access_keys("bob")) == 1
    job.refresh_from_db()
    assert job.finished_at is not None


def test_it_cancels_queued_items_without_touching_iam(iam, operator, operator_client) -> None:
    job = _start(operator, UserPlan(user_name="ann"), UserPlan(user_name="bob"))
    response = operator_client.post(reverse("users:job_cancel", args=[job.id]))
    assert response.status_code == 302
    _run(job)  # the messages still arrive
    assert list(job.items.values_list("status", flat=True)) == ["cancelled", "cancelled"]
    assert iam.list_users() == []
    job.refresh_from_db()
    assert job.cancelled_at is not None and job.finished_at is not None


def test_a_chunk_starts_none_of_its_claimed_items_once_their_job_is_cancelled(iam, operator, monkeypatch) -> None:
    """Cancel while a chunk runs: the user being created finishes, the chunk's other claimed
    users are not started and end CANCELLED (the chunk learns it when it saves an outcome)."""
    job = _start(operator, UserPlan(user_name="ann"), UserPlan(user_name="bob"), UserPlan(user_name="cy"))

    def provision_then_cancel(plan, **kwargs):
        done = provision_user(plan, **kwargs)
        if plan.user_name == "ann":
            jobs.cancel(job)  # the others are RUNNING (claimed): Cancel leaves them to the chunk
        return done

    monkeypatch.setattr(tasks, "provision_user", provision_then_cancel)
    monkeypatch.setattr(tasks, "FLUSH_SECONDS", 0)  # outcomes saved after each user
    _run(job)
    assert list(job.items.values_list("user_name", "status")) == [
        ("ann", "done"),
        ("bob", "cancelled"),
        ("cy", "cancelled"),
    ]
    assert [user.name for user in iam.list_users()] == ["ann"]
    job.refresh_from_db()
    assert job.finished_at is not None


# --- The sweeper -----------------------------------------------------------------------------


def test_it_requeues_stale_running_items_and_leaves_live_ones(iam, operator, monkeypatch) -> None:
    sent = []
    monkeypatch.setattr(tasks, "enqueue", lambda ids: sent.extend(ids))
    job = _start(operator, UserPlan(user_name="ann"), UserPlan(user_name="bob"), UserPlan(user_name="cy"))
    ann, bob, cy = job.items.all()
    long_ago = timezone.now() - timedelta(hours=1)
    JobItem.objects.filter(pk=ann.pk).update(status=Status.RUNNING, heartbeat_at=long_ago, attempts=1)
    JobItem.objects.filter(pk=bob.pk).update(status=Status.RUNNING, heartbeat_at=timezone.now(), attempts=1)
    JobItem.objects.filter(pk=cy.pk).update(heartbeat_at=timezone.now())  # the job is moving
    assert sweep_stale_items.run() == 1
    assert sent == [ann.pk]
    assert job.items.get(pk=ann.pk).status == Status.QUEUED
    assert job.items.get(pk=bob.pk).status == Status.RUNNING
    run_job_items.run([ann.pk])
    assert job.items.get(pk=ann.pk).status == Status.DONE


def test_it_resends_the_queued_items_of_a_stalled_job(iam, operator) -> None:
    job = _start(operator, UserPlan(user_name="ann"))
    assert job_items.requeue_stale_items() == []  # just created: its message may be on its way
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(hours=1))
    assert job_items.requeue_stale_items() == [job.items.get().pk]


def test_it_resends_lost_queued_items_while_another_item_is_still_running(iam, operator) -> None:
    """A retry whose message was lost (the broker down when it was sent), beside an item whose
    IAM call is still in flight: the running item's heartbeat does not keep the retry waiting."""
    job = _start(operator, UserPlan(user_name="ann"), UserPlan(user_name="bob"))
    ann, bob = job.items.all()
    long_ago = timezone.now() - timedelta(hours=1)
    Job.objects.filter(pk=job.pk).update(created_at=long_ago)
    JobItem.objects.filter(pk=ann.pk).update(heartbeat_at=long_ago, attempts=1)  # queued again, long ago
    JobItem.objects.filter(pk=bob.pk).update(status=Status.RUNNING, heartbeat_at=timezone.now(), attempts=1)
    assert job_items.requeue_stale_items() == [ann.pk]
    assert job.items.get(pk=bob.pk).status == Status.RUNNING


def test_it_fails_an_item_that_keeps_killing_its_worker(iam, operator) -> None:
    job = _start(operator, UserPlan(user_name="ann"))
    JobItem.objects.update(
        status=Status.RUNNING, heartbeat_at=timezone.now() - timedelta(hours=1), attempts=job_items.MAX_ATTEMPTS
    )
    assert job_items.requeue_stale_items() == []
    item = job.items.get()
    assert (item.status, item.error_code) == (Status.FAILED, "WorkerLost")
    job.refresh_from_db()
    assert job.finished_at is not None


def test_it_starts_one_sweeper_chain_per_worker_start(db, monkeypatch) -> None:
    scheduled = []
    monkeypatch.setattr(sweep_stale_items, "apply_async", lambda **kwargs: scheduled.append(kwargs))
    start_sweeper()
    chain = scheduled[-1]["kwargs"]["chain"]
    assert sweep_stale_items.run(chain=chain) == 0
    assert scheduled[-1] == {"kwargs": {"chain": chain}, "countdown": 60}
    start_sweeper()  # a newer worker: the old chain stops
    before = len(scheduled)
    sweep_stale_items.run(chain=chain)
    assert len(scheduled) == before


def test_it_keeps_the_task_limits_inside_the_broker_visibility_timeout(settings) -> None:
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600)
    options = cast(RetryOptions, run_job_items)
    assert run_job_items.time_limit is not None and run_job_items.soft_time_limit is not None
    assert run_job_items.time_limit < visibility and options.retry_backoff_max < visibility
    assert run_job_items.soft_time_limit < run_job_items.time_limit < job_items.stale_after().total_seconds()
    assert (options.retry_backoff, options.retry_jitter, run_job_items.max_retries) == (2, True, MAX_RETRIES)
    conf = run_job_items.app.conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost and conf.worker_prefetch_multiplier == 1


# --- Database connections in the worker -----------------------------------------------------


@pytest.mark.django_db(transaction=True)  # autocommit, as in a worker
def test_it_keeps_the_database_connection_between_tasks_until_it_is_old() -> None:
    from users.tasks import close_old_database_connections

    connection.ensure_connection()
    kept = connection.connection
    close_old_database_connections(task=run_job_items)  # task_prerun / task_postrun
    assert connection.connection is kept
    assert not connection.health_check_done  # type: ignore[attr-defined]  # missing from django-stubs
    in_memory = connection.vendor == "sqlite" and cast("SQLiteDatabaseWrapper", connection).is_in_memory_db()
    if not in_memory:  # Django never closes an in-memory SQLite database
        connection.close_at = 0  # past CONN_MAX_AGE (the next connect sets it again)
        close_old_database_connections(task=run_job_items)
        assert connection.connection is None
    run_job_items.push_request(  # type: ignore[call-arg]  # takes Context fields, not the task's args
        is_eager=True  # inside its caller's transaction: left alone
    )
    try:
        connection.ensure_connection()
        kept = connection.connection
        connection.close_at = 0
        close_old_database_connections(task=run_job_items)
        assert connection.connection is kept
    finally:
        run_job_items.pop_request()


# --- Bulk-sized jobs -------------------------------------------------------------------------


def test_it_reads_the_password_policy_once_per_job(iam, operator) -> None:
    from users.iam.counter import CALLS

    job = _start(operator, *(UserPlan(user_name=f"u{i}", console_access=True) for i in range(3)))
    with CALLS.measure() as calls:
        _run(job)
    assert calls.by_operation["GetAccountPasswordPolicy"] == 1
    assert calls.by_operation["CreateLoginProfile"] == 3


def test_it_keeps_secrets_an_hour_while_the_job_runs_and_15_minutes_once_it_ends(
    iam, operator, settings, redis_cache
) -> None:
    job = _start(operator, UserPlan(user_name="ann", programmatic_access=True), UserPlan(user_name="bob"))
    ann, bob = job.items.all()
    key = f":1:{credentials._cache_key(str(job.id), job_items.access_key_item('ann'))}"
    run_job_items.run([ann.pk])
    assert credentials.MAX_TTL - 60 < redis_cache.ttl(key) <= credentials.MAX_TTL
    run_job_items.run([bob.pk])
    job.refresh_from_db()
    assert job.finished_at is not None
    assert settings.CREDENTIALS_TTL - 60 < redis_cache.ttl(key) <= settings.CREDENTIALS_TTL
    assert jobs.credentials_expire_at(job) == job.finished_at + timedelta(seconds=settings.CREDENTIALS_TTL)


def test_it_lists_the_operators_jobs_with_their_counts(finished, operator_client, other_client) -> None:
    page = operator_client.get(reverse("users:jobs")).content.decode()
    assert reverse("users:job_detail", args=[finished.id]) in page
    match = re.search(r'<tr data-testid="job-row">(.*?)</tr>', page, re.S)
    assert match is not None
    row = match.group(1)
    cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
    assert cells[1:6] == ["Add user wizard", "2", "2", "0", "0"]
    others = other_client.get(reverse("users:jobs")).content.decode()
    assert reverse("users:job_detail", args=[finished.id]) not in others


def test_it_pages_and_filters_the_users_of_a_large_job(iam, operator, operator_client) -> None:
    job = _start(operator, *(UserPlan(user_name=f"user{i:03d}") for i in range(130)))
    JobItem.objects.filter(job=job, position__in=[5, 120]).update(status=Status.FAILED, error_code="LimitExceeded")
    url = reverse("users:job_detail", args=[job.id])
    first = operator_client.get(url).content.decode()
    assert first.count("data-item-id=") == 50 and "user049" in first and "user050" not in first
    assert "Page 1 of 3" in first
    last = operator_client.get(url + "?page=3").content.decode()
    assert last.count("data-item-id=") == 30 and "user100" in last and "user129" in last
    failed = operator_client.get(url + "?status=failed").content.decode()
    assert failed.count("data-item-id=") == 2 and "user005" in failed and "user120" in failed
    assert f'data-progress-url="{reverse("users:job_progress", args=[job.id])}?status=failed&page=1"' in failed
    progress = operator_client.get(reverse("users:job_progress", args=[job.id]) + "?page=3").json()
    assert len(progress["items"]) == 30 and progress["total"] == 130 and progress["failed"] == 2


def test_it_sums_up_the_credentials_of_a_large_job_and_keeps_them_in_the_csv(iam, operator, operator_client) -> None:
    from users.views.jobs import INLINE_CREDENTIALS_MAX

    count = INLINE_CREDENTIALS_MAX + 1
    job = _start(
        operator,
        *(UserPlan(user_name=f"user{i:02d}", programmatic_access=True) for i in range(count)),
        client=operator_client,
    )
    _run(job)
    page = operator_client.get(reverse("users:job_credentials", args=[job.id]))
    text = page.content.decode()
    assert page.status_code == 200 and 'data-testid="credentials-csv-only"' in text
    assert f"{count} users have credentials waiting" in text and f"{count} secret access keys" in text
    secrets = _secrets(job)
    assert not any(secret["secret_access_key"] in text for secret in secrets.values())
    csv_text = b"".join(operator_client.get(reverse("users:job_credentials_csv", args=[job.id])).streaming_content)
    assert all(secret["secret_access_key"].encode() in csv_text for secret in secrets.values())
    assert len(secrets) == count
