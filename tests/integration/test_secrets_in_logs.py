"""RELIABILITY.md S1 for logs: with every logger at DEBUG, a whole job through a real worker
logs no password and no secret access key (botocore stays at INFO, the redaction filter
masks what slips through)."""

from __future__ import annotations

import csv
import io
import logging

import pytest
from django.urls import reverse

from tests.celery_workers import wait_until_finished
from users import jobs
from users.models import Job
from users.provisioning import UserPlan

from .test_job_worker import _variants

pytestmark = pytest.mark.integration

CANARY = "Canary-Logs-Passw0rd!q9"


def test_it_logs_no_secret_at_debug(transactional_db, celery_worker, operator, operator_client, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    plans = [
        UserPlan(user_name="dee", console_access=True, custom_password=True, programmatic_access=True),
        UserPlan(user_name="eve", console_access=True, programmatic_access=True),
    ]
    session = operator_client.session
    job = jobs.start_job(
        operator=operator, source=Job.Source.WIZARD, plans=plans, custom_password=CANARY, session=session
    )
    session.save()
    wait_until_finished(job)
    response = operator_client.get(reverse("users:job_credentials_csv", args=[job.id]))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))

    secrets = {CANARY} | {row["Password"] for row in rows} | {row["Secret access key"] for row in rows}
    assert len(secrets) == 4 and "" not in secrets
    assert any(record.levelno == logging.DEBUG for record in caplog.records)  # DEBUG really was on
    logged = caplog.text.encode()
    assert [secret for secret in secrets for variant in _variants(secret) if variant in logged] == []
