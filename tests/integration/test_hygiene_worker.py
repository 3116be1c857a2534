"""Deactivating stale access keys end to end: the hygiene page's Deactivate → a job → Redis → a
real worker → the moto server; each key's result on the job's items, every change audited."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.celery_workers import wait_until_finished
from users.hygiene import keys as key_jobs
from users.iam.gateway import IamGateway
from users.models import AuditEvent, Job

pytestmark = pytest.mark.integration


def test_it_deactivates_the_selected_keys_on_a_real_worker(
    transactional_db, celery_worker, operator, operator_client
) -> None:
    iam = IamGateway.from_settings()
    for name in ("ford", "arthur"):
        iam.create_user(name)
    ford_old, ford_new = (iam.create_access_key("ford").access_key_id for _ in range(2))
    arthur = iam.create_access_key("arthur").access_key_id
    created = {key.access_key_id: key.created for name in ("ford", "arthur") for key in iam.list_access_keys(name)}
    iam.update_access_key("arthur", arthur, "Inactive")  # since the confirmation: the worker reads it again

    # As the confirmation posts them: the keys as the report names them, and the ids it read.
    response = operator_client.post(
        reverse("users:hygiene_deactivate"),
        {
            "key": [f"ford:1:{created[ford_old]:%Y-%m-%dT%H:%M:%SZ}", f"arthur:1:{created[arthur]:%Y-%m-%dT%H:%M:%SZ}"],
            "key_id": [f"ford:{ford_old}", f"arthur:{arthur}"],
            "confirm": "1",
        },
    )

    job = Job.objects.get(source=Job.Source.KEYS)
    assert response["Location"] == reverse("users:job_detail", args=[job.id])
    wait_until_finished(job)
    results = {
        item.user_name: (item.status, [(step["step"], step.get("note")) for step in item.steps])
        for item in job.items.all()
    }
    assert results == {
        "ford": ("done", [(f"UpdateAccessKey:{ford_old}", key_jobs.DEACTIVATED)]),
        "arthur": ("done", [(f"UpdateAccessKey:{arthur}", key_jobs.ALREADY_INACTIVE)]),
    }
    assert {key.access_key_id: key.status for key in iam.list_access_keys("ford")} == {
        ford_old: "Inactive",
        ford_new: "Active",
    }
    audited = AuditEvent.objects.filter(action="UpdateAccessKey", operator_name="alice")
    assert [(event.target, event.parameters["AccessKeyId"], event.outcome) for event in audited] == [
        ("ford", ford_old, "success")
    ]
