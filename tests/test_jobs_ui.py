"""Jobs as a person sees them (users/views/jobs.py, users/views/job_notices.py): the progress
JSON's rows, read at one moment; Jobs in the side navigation; the job list's users and origin;
the top bar's notice of a job that finished while its operator was elsewhere. Items run through
the task's own function, as in tests/test_jobs.py."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.db import connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.integration.services import require_postgres
from users import jobs
from users.models import Job, JobItem, UserImport
from users.provisioning import UserPlan
from users.roles import OPERATORS
from users.tasks import run_job_items

Status = JobItem.Status


@pytest.fixture(autouse=True)
def queue_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """The broker answers (unit tests never reach it: on_commit does not fire in them)."""
    monkeypatch.setattr(jobs, "check_queue", lambda: None)


def _start(operator, *names: str, source: str = Job.Source.WIZARD) -> Job:
    plans = [UserPlan(user_name=name, programmatic_access=True) for name in names]
    return jobs.start_job(operator=operator, source=source, plans=plans)


def _run(*items: JobItem) -> None:
    run_job_items.run([item.pk for item in items])


def _progress(client: Client, job: Job, known: str = "") -> dict[str, Any]:
    url = reverse("users:job_progress", args=[job.id]) + "?page=1"
    response = client.get(url + (f"&known={known}" if known else ""))
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    return data


def _known(job: Job) -> str:
    return ",".join(f"{pk}{status[0]}" for pk, status in job.items.values_list("id", "status"))


def _finish(job: Job, *, done: int, failed: int = 0) -> None:
    """Mark the job's items done or failed, and the job finished, as the worker would."""
    items = list(job.items.order_by("position"))
    JobItem.objects.filter(pk__in=[i.pk for i in items[:done]]).update(status=Status.DONE)
    JobItem.objects.filter(pk__in=[i.pk for i in items[done : done + failed]]).update(status=Status.FAILED)
    Job.objects.filter(pk=job.pk).update(finished_at=timezone.now())


def _text(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


# --- The progress JSON: a changed row comes with its steps -----------------------------------


def test_it_sends_the_steps_of_a_row_whose_status_changed_since_the_last_poll(iam, operator, operator_client) -> None:
    job = _start(operator, "ann", "bob")
    known = _known(job)  # both queued, as the page first showed them
    ann = job.items.get(user_name="ann")
    _run(ann)
    data = _progress(operator_client, job, known)
    rows = {item["id"]: item for item in data["items"]}
    assert rows[ann.pk]["status"] == "done" and data["done"] == 1 and data["percent"] == 50
    row = rows[ann.pk]["row"]
    assert row["started"] is True and row["seconds"] is not None
    assert [step["operation"] for step in row["steps"]] == ["CreateUser", "CreateAccessKey"]
    assert {step["status"] for step in row["steps"]} == {"done"}
    bob = job.items.get(user_name="bob")
    assert "row" not in rows[bob.pk]  # unchanged: its status only

    # Once the page shows ann as done, nothing more is sent for her.
    again = _progress(operator_client, job, _known(job))
    assert not any("row" in item for item in again["items"])


def test_it_keeps_the_poll_cheap_reading_steps_of_changed_rows_only(iam, operator, operator_client) -> None:
    job = _start(operator, *(f"user{i:02d}" for i in range(30)))
    first = job.items.get(position=0)
    _run(first)
    known = _known(job)
    with CaptureQueriesContext(connection) as unchanged:
        _progress(operator_client, job, known)
    JobItem.objects.filter(pk=job.items.get(position=1).pk).update(status=Status.RUNNING)
    with CaptureQueriesContext(connection) as one_changed:
        data = _progress(operator_client, job, known)
    assert [item["id"] for item in data["items"] if "row" in item] == [job.items.get(position=1).pk]

    def item_selects(queries: CaptureQueriesContext) -> list[str]:
        return [
            q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT") and "users_jobitem" in q["sql"]
        ]

    assert len(item_selects(unchanged)) == 3  # the counts, the paginator's count, the page
    assert not any('"steps"' in sql for sql in item_selects(unchanged))
    added = item_selects(one_changed)[3:]
    assert len(added) == 1 and '"steps"' in added[0]  # the one changed item's row


def test_it_ignores_what_it_does_not_understand_in_known(iam, operator, operator_client) -> None:
    job = _start(operator, "ann")
    data = _progress(operator_client, job, "x,12,99z,²q,-3d,,abc" + "1q," * 500)
    assert [item["status"] for item in data["items"]] == ["queued"] and "row" not in data["items"][0]


@pytest.mark.django_db(transaction=True)
def test_it_reads_the_counts_and_the_rows_at_one_moment(operator, settings) -> None:
    """A worker's write between the counts and the rows does not show in the rows (PostgreSQL:
    SQLite's shared test database refuses a second writer during a read transaction)."""
    require_postgres(settings)
    job = Job.objects.create(operator=operator, source=Job.Source.WIZARD)
    JobItem.objects.bulk_create(JobItem(job=job, position=n, user_name=f"u{n}", plan={}) for n in range(3))

    def worker_finishes_them() -> None:
        JobItem.objects.filter(job=job).update(status=Status.DONE)
        connections.close_all()

    with jobs.one_snapshot():
        counts = jobs.job_counts(job)
        worker = threading.Thread(target=worker_finishes_them)
        worker.start()
        worker.join()
        statuses = list(job.items.values_list("status", flat=True))
    assert counts.queued == 3 and statuses == ["queued"] * 3
    assert list(job.items.values_list("status", flat=True)) == ["done"] * 3


# --- Navigation and the job list -------------------------------------------------------------


def _active_nav(page: str) -> list[str]:
    return re.findall(r'class="nav-link active" href="[^"]*">([^<]+)</a>', page)


def test_it_has_jobs_in_the_navigation_active_on_job_pages(iam, operator, operator_client) -> None:
    job = _start(operator, "ann")
    for url in (reverse("users:jobs"), reverse("users:job_detail", args=[job.id])):
        page = operator_client.get(url).content.decode()
        assert _active_nav(page) == ["Jobs"], url
    assert f'href="{reverse("users:jobs")}">Jobs</a>' in operator_client.get(reverse("users:audit")).content.decode()
    assert _active_nav(operator_client.get(reverse("users:import")).content.decode()) == ["Users"]


def _breadcrumbs(page: str) -> str:
    crumbs = re.search(r'<ol class="breadcrumb small">(.*?)</ol>', page, re.S)
    assert crumbs is not None
    return " ".join(_text(crumbs.group(1)).split())


def test_a_jobs_breadcrumbs_name_the_page_it_was_started_from(iam, operator, operator_client) -> None:
    wizard = _start(operator, "ann")
    keys = Job.objects.create(operator=operator, source=Job.Source.KEYS)
    assert _breadcrumbs(operator_client.get(reverse("users:job_detail", args=[wizard.id])).content.decode()) == (
        "IAM Users Add user"
    )
    assert _breadcrumbs(operator_client.get(reverse("users:job_detail", args=[keys.id])).content.decode()) == (
        "IAM Access key hygiene Deactivate access keys"
    )


def test_it_lists_each_jobs_first_users_and_origin(iam, operator, operator_client) -> None:
    wizard = _start(operator, "ann", "bob")
    imported = _start(operator, *(f"user{i:02d}" for i in range(50)), source=Job.Source.IMPORT)
    UserImport.objects.create(operator=operator, file_name="staff.csv", rows_total=50, job=imported)
    page = operator_client.get(reverse("users:jobs")).content.decode()
    rows = re.findall(r'<tr data-testid="job-row">(.*?)</tr>', page, re.S)
    newest, oldest = (_text(row) for row in rows)
    assert "Import: staff.csv user00, user01, user02 + 47 more 50 " in newest
    assert "Add user wizard ann, bob 2 " in oldest
    assert str(wizard.id) in rows[1]


def test_it_lists_many_jobs_in_as_many_queries_as_one(iam, operator, operator_client) -> None:
    def add_jobs(numbers: range) -> None:
        for n in numbers:
            job = Job.objects.create(operator=operator, source=Job.Source.IMPORT)
            JobItem.objects.bulk_create(JobItem(job=job, position=p, user_name=f"j{n}u{p}", plan={}) for p in range(5))
            UserImport.objects.create(operator=operator, file_name=f"file{n}.csv", job=job)

    def list_page() -> tuple[str, int]:
        with CaptureQueriesContext(connection) as queries:
            page = operator_client.get(reverse("users:jobs")).content.decode()
        return page, len(queries.captured_queries)

    add_jobs(range(1))
    list_page()  # the account info cached, the session warm
    _, for_one = list_page()
    add_jobs(range(1, 30))
    page, for_many = list_page()
    assert for_many == for_one <= 10
    assert page.count('data-testid="job-row"') == 25 and page.count(" + 2 more") == 25
    assert "Import: file29.csv" in page and "j29u0, j29u1, j29u2" in page


# --- The top bar's notice of a finished job ----------------------------------------------------


@pytest.fixture
def other_client(django_user_model) -> Client:
    """Carol, another operator."""
    carol = django_user_model.objects.create_user("carol", password="correct horse battery staple")
    carol.groups.add(Group.objects.get(name=OPERATORS))
    client = Client()
    client.force_login(carol)
    return client


def _notices(client: Client, url: str | None = None) -> list[str]:
    page = client.get(url or reverse("users:audit")).content.decode()
    return [_text(notice).strip() for notice in re.findall(r'data-testid="job-notice">(.*?)</div>', page, re.S)]


def test_it_tells_of_a_finished_job_once_on_another_page(iam, operator, operator_client, other_client) -> None:
    job = _start(operator, *(f"user{i:02d}" for i in range(50)), source=Job.Source.IMPORT)
    UserImport.objects.create(operator=operator, file_name="staff.csv", rows_total=50, job=job)
    assert _notices(operator_client) == []  # still running
    _finish(job, done=48, failed=2)
    assert _notices(other_client) == []  # another operator's job
    assert _notices(operator_client) == ["Import of 50 users (staff.csv) finished: 48 created, 2 failed — View"]
    page = operator_client.get(reverse("users:audit")).content.decode()
    assert 'data-testid="job-notice"' not in page  # told once
    assert _notices(operator_client, reverse("users:jobs")) == []


def test_it_links_the_notice_to_the_job_and_tells_of_a_wizard_job(iam, operator, operator_client) -> None:
    job = _start(operator, "ann")
    _finish(job, done=1)
    page = operator_client.get(reverse("users:audit")).content.decode()
    notice = re.search(r'data-testid="job-notice">(.*?)</div>', page, re.S)
    assert notice is not None and f'href="{reverse("users:job_detail", args=[job.id])}"' in notice.group(1)
    assert _text(notice.group(1)).strip() == "Add user (1 user) finished: 1 created — View"
    assert 'data-bs-dismiss="alert"' in notice.group(1)


def test_it_does_not_tell_of_a_job_on_its_own_page_and_takes_it_as_seen(iam, operator, operator_client) -> None:
    job = _start(operator, "ann")
    _finish(job, done=1)
    assert _notices(operator_client, reverse("users:job_detail", args=[job.id])) == []
    assert _notices(operator_client) == []


def test_it_tells_again_of_a_retried_job_that_finishes_again(iam, operator, operator_client) -> None:
    job = _start(operator, "ann", "bob")
    _finish(job, done=1, failed=1)
    assert len(_notices(operator_client)) == 1
    Job.objects.filter(pk=job.pk).update(finished_at=None)  # what Retry does to the job
    operator_client.get(reverse("users:job_detail", args=[job.id]))
    assert _notices(operator_client) == []
    JobItem.objects.filter(job=job).update(status=Status.DONE)
    Job.objects.filter(pk=job.pk).update(finished_at=timezone.now())
    assert _notices(operator_client) == ["Add user (2 users) finished: 2 created — View"]


def test_it_asks_the_database_nothing_for_an_operator_with_nothing_to_tell(iam, operator, operator_client) -> None:
    def job_queries() -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            operator_client.get(reverse("users:audit"))
        return [q["sql"] for q in queries.captured_queries if '"users_job"' in q["sql"]]

    job = _start(operator, "ann")
    assert len(job_queries()) == 1  # a job runs: one indexed query a page
    _finish(job, done=1)
    assert len(job_queries()) > 1  # told: counted and marked
    assert len(job_queries()) == 1  # nothing left: the cache remembers it ...
    assert job_queries() == []  # ... and the next pages ask nothing
    _start(operator, "bob")
    assert len(job_queries()) == 1  # a new job is asked about again
