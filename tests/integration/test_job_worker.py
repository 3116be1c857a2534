"""Jobs end to end: start_job → Redis → a real worker → provisioning → the moto server, with the
one-time store in the same Redis, then a canary scan of everything Redis holds."""

from __future__ import annotations

import base64
import csv
import io
import json
import pickle
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any, cast
from urllib.parse import quote, quote_plus

import pytest
import redis
from celery.signals import before_task_publish
from django.urls import reverse
from django.utils import timezone

from tests.celery_workers import wait_until_finished
from users import job_items, jobs
from users.iam.gateway import IamGateway
from users.models import AuditEvent, Job, JobItem
from users.provisioning import CREATED_BY_TAG, UserPlan
from users.tasks import sweep_stale_items

pytestmark = pytest.mark.integration

CANARY = "Canary-Passw0rd!x7/q"


@pytest.fixture
def redis_store(redis_cache: redis.Redis) -> redis.Redis:
    """The one-time store on the tests' Redis (the unit tests use a process-local cache)."""
    return redis_cache


@pytest.fixture
def published() -> Iterator[list[dict[str, Any]]]:
    """Every task message sent while the test runs: its body and headers."""
    messages: list[dict[str, Any]] = []

    def record(sender=None, body=None, headers=None, **kwargs) -> None:
        messages.append({"task": sender, "body": body, "headers": headers})

    before_task_publish.connect(record, weak=False)
    yield messages
    before_task_publish.disconnect(record)


def _variants(secret: str) -> set[bytes]:
    """The secret as it could leak: raw, JSON-escaped, URL-encoded, and base64 at each of the
    three alignments it can take inside a longer base64 text."""
    raw = secret.encode()
    found = {raw, json.dumps(secret)[1:-1].encode(), quote(secret, safe="").encode(), quote_plus(secret).encode()}
    for pad in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            # Drop the groups that mix in the bytes around the secret.
            found.add(encode(b"\0" * pad + raw)[4 if pad else 0 : -4])
    return {variant for variant in found if len(variant) >= 12}


def _redis_dump(client: redis.Redis) -> dict[bytes, list[bytes]]:
    """Every key of the test database with its values, whatever the type."""
    dump: dict[bytes, list[bytes]] = {}
    for key in client.scan_iter("*"):
        kind = client.type(key)
        values: Sequence[object]
        if kind == b"string":
            values = [client.get(key) or b""]
        elif kind == b"hash":
            values = [b for pair in client.hgetall(key).items() for b in pair]
        elif kind == b"list":
            values = client.lrange(key, 0, -1)
        elif kind == b"set":
            values = list(client.smembers(key))
        elif kind == b"zset":
            values = client.zrange(key, 0, -1)
        else:
            values = []
        dump[key] = cast(list[bytes], values)  # bytes: the client does not decode responses
    return dump


def test_it_runs_a_job_on_a_real_worker_and_keeps_only_ciphertext_in_redis(
    transactional_db, redis_store, celery_worker, published, operator, operator_client, settings
) -> None:
    plans = [
        UserPlan(user_name="ann", console_access=True, custom_password=True, programmatic_access=True),
        UserPlan(user_name="bob", console_access=True, programmatic_access=True),
        UserPlan(user_name="cy", programmatic_access=True),
    ]
    session = operator_client.session
    job = jobs.start_job(
        operator=operator, source=Job.Source.WIZARD, plans=plans, custom_password=CANARY, session=session
    )
    session.save()
    wait_until_finished(job)

    items = {item.user_name: item for item in job.items.all()}
    assert {name: item.status for name, item in items.items()} == {"ann": "done", "bob": "done", "cy": "done"}
    iam = IamGateway.from_settings()
    assert sorted(user.name for user in iam.list_users()) == ["ann", "bob", "cy"]
    for name, item in items.items():
        assert [key.access_key_id for key in iam.list_access_keys(name)] == [item.access_key_id]

    # Celery messages: one chunk of the job's item ids (more if an item was retried), and
    # nothing else.
    runs = [m for m in published if m["task"] == "users.tasks.run_job_items"]
    assert runs[0]["body"][0] == (sorted(item.id for item in items.values()),)
    assert {item_id for m in runs for item_id in m["body"][0][0]} == {item.id for item in items.values()}
    assert all(m["body"][1] == {} for m in runs)

    # The store: Fernet ciphertext only, each entry expiring within 15 minutes.
    entries = list(redis_store.scan_iter("*credentials:*"))
    assert len(entries) == 6  # the custom password, 2 passwords, 3 access keys
    for key in entries:
        assert 0 < redis_store.ttl(key) <= 900
        assert pickle.loads(redis_store.get(key)).startswith("gAAAAA")

    # What the operator downloads is what must be nowhere else.
    response = operator_client.get(reverse("users:job_credentials_csv", args=[job.id]))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    secrets = {CANARY} | {row["Password"] for row in rows if row["Password"]}
    secrets |= {row["Secret access key"] for row in rows}
    assert len(secrets) == 5 and {row["Password"] for row in rows} == {CANARY, rows[1]["Password"], ""}

    leaks: list[bytes | str] = []
    dump = _redis_dump(redis_store)
    message_text = json.dumps(published, default=str).encode()
    database_text = json.dumps(
        [*Job.objects.values(), *JobItem.objects.values(), *AuditEvent.objects.values()], default=str
    ).encode()
    for secret in secrets:
        for variant in _variants(secret):
            leaks += [key for key, values in dump.items() if variant in key or any(variant in v for v in values)]
            leaks += ["celery message"] * (variant in message_text)
            leaks += ["database"] * (variant in database_text)
    assert leaks == []

    # Close deletes every entry at once (RELIABILITY.md S3).
    operator_client.post(reverse("users:job_close", args=[job.id]))
    assert redis_store.exists(*entries) == 0
    assert operator_client.get(reverse("users:job_credentials", args=[job.id])).status_code == 410


def test_it_sweeps_an_item_left_running_by_a_killed_worker(
    transactional_db, celery_worker, operator, iam_server
) -> None:
    # The killed worker had sent CreateUser (IAM made the user) and died before saving the step.
    iam = IamGateway.from_settings()
    started = timezone.now() - timedelta(hours=1)
    job = Job.objects.create(
        operator=operator,
        source=Job.Source.WIZARD,
        account_id="123456789012",
        sign_in_url="https://123456789012.signin.aws.amazon.com/console",
    )
    plan = UserPlan(user_name="dora", programmatic_access=True)
    step = {"step": "CreateUser", "status": "started", "started_at": started.isoformat(), "at": started.isoformat()}
    item = JobItem.objects.create(
        job=job,
        position=0,
        user_name="dora",
        plan=plan.to_json(),
        status=JobItem.Status.RUNNING,
        attempts=1,
        heartbeat_at=started,
        started_at=started,
        steps=[step],
    )
    iam.create_user("dora", tags={CREATED_BY_TAG: job_items.created_by(item)})

    sweep_stale_items.delay()
    wait_until_finished(job)

    item.refresh_from_db()
    assert (item.status, item.attempts) == ("done", 2)
    assert [user.name for user in iam.list_users()] == ["dora"]
    assert [key.access_key_id for key in iam.list_access_keys("dora")] == [item.access_key_id]
