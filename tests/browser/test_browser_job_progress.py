"""A job as a person sees it, in a real browser: the live progress of a job over a slow IAM
(every poll's bar, counts, badges and steps agree), Jobs in the navigation and the job list, and
the top bar's notice of a job that finished while its operator was elsewhere. Jobs run on a real
Celery worker."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from playwright.sync_api import Dialog, Page, Route, expect
from playwright.sync_api import Error as PlaywrightError

from tests.celery_workers import thread_worker
from tests.iam_proxy import IamProxy
from users import jobs, tasks
from users.iam.gateway import IamGateway
from users.models import Job
from users.provisioning import UserPlan

from .conftest import browser_session, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

USERS = 50  # on one page: every badge is seen, so badges and counts can be compared

# What the page shows at one moment: the counts, the bar, and each row's badge and steps.
SNAPSHOT = """() => {
  const root = document.getElementById("job-progress");
  if (!root) return null;
  const count = (name) => parseInt(root.querySelector(`[data-count="${name}"]`).textContent, 10);
  const meter = root.querySelector("[role=progressbar]");
  const bar = root.querySelector("[data-progress-bar]");
  return {
    counts: Object.fromEntries(["processed", "total", "queued", "running", "done", "failed"].map((n) => [n, count(n)])),
    valuenow: parseInt(meter.getAttribute("aria-valuenow"), 10),
    width: bar.getBoundingClientRect().width / meter.getBoundingClientRect().width,
    rows: Array.from(document.querySelectorAll("[data-item-id]"), (tr) => ({
      badge: tr.querySelector("[data-item-status]").textContent.trim(),
      steps: tr.querySelector("[data-item-steps]").textContent,
      stepStatuses: Array.from(tr.querySelectorAll("[data-step-status]"), (li) => li.dataset.stepStatus),
    })),
  };
}"""


def _start_held(page: Page, operator, *plans: UserPlan) -> tuple[Job, list[int]]:
    """A job of the browser's session whose messages are not sent yet."""
    session = browser_session(page)
    with mock.patch.object(tasks, "enqueue") as enqueue:
        job = jobs.start_job(operator=operator, source=Job.Source.WIZARD, plans=list(plans), session=session)
    session.save()
    return job, list(enqueue.call_args.args[0])


@pytest.fixture
def slow_console(console: str, iam_server: str, server_gateway, redis_client, settings) -> Iterator[str]:
    """The live console, and the worker the test starts, with IAM behind a 0.2 s round trip
    (`server_gateway`, made before, goes to IAM directly)."""
    with IamProxy(iam_server, latency=0.2, seed=20261205) as proxy:
        settings.IAM_ENDPOINT_URL = proxy.url
        yield console
    IamGateway.forget_clients()  # their pooled connections lead to a proxy that is gone


def _disagreements(snapshot: dict[str, Any]) -> list[str]:
    counts, rows = snapshot["counts"], snapshot["rows"]
    problems = []
    for row in rows:
        if row["badge"] == "Done" and ("Not started" in row["steps"] or set(row["stepStatuses"]) != {"done"}):
            problems.append(f"a Done row shows {row['steps'].split()} {row['stepStatuses']}")
    if snapshot["valuenow"] != 100 * counts["processed"] // counts["total"]:
        problems.append(f"the bar says {snapshot['valuenow']} % of {counts}")
    if abs(snapshot["width"] - counts["processed"] / counts["total"]) > 0.02:
        problems.append(f"the bar is drawn at {snapshot['width']:.2f} of {counts}")
    for label, name in (("Queued", "queued"), ("Running", "running"), ("Done", "done"), ("Failed", "failed")):
        badges = sum(1 for row in rows if row["badge"] == label)
        if badges != counts[name]:
            problems.append(f"{badges} {label} badges for {counts}")
    return problems


def test_every_poll_of_a_running_job_agrees_with_itself(
    page: Page, slow_console: str, live_operator, server_gateway, screenshot
) -> None:
    console = slow_console
    sign_in(page, console)
    server_gateway.create_group("Staff")
    # One to three steps each, so that users finish at different times.
    plans = [
        UserPlan(user_name=f"user{n:02d}", programmatic_access=n % 2 == 0, groups=("Staff",) if n % 3 == 0 else ())
        for n in range(USERS)
    ]
    job, item_ids = _start_held(page, live_operator, *plans)
    page.goto(f"{console}/jobs/{job.id}/")
    expect(page.get_by_test_id("job-counts")).to_contain_text(f"0 of {USERS}")
    expect(page.locator("[data-item-steps]", has_text="Not started")).to_have_count(USERS)

    samples: list[dict[str, Any]] = []
    with thread_worker(concurrency=2):
        tasks.enqueue(item_ids)
        deadline = time.monotonic() + 90
        while "/credentials/" not in page.url and time.monotonic() < deadline:
            try:
                snapshot = page.evaluate(SNAPSHOT)
            except PlaywrightError:  # the page moved on to the Success page meanwhile
                break
            if snapshot is None:
                break
            samples.append(snapshot)
            problems = _disagreements(snapshot)
            if problems:
                screenshot("disagreement")
            assert not problems, problems
            time.sleep(0.25)
        page.wait_for_url(f"**/jobs/{job.id}/credentials/", timeout=30_000)

    during = [s for s in samples if 0 < s["counts"]["processed"] < s["counts"]["total"]]
    assert len({s["counts"]["processed"] for s in during}) >= 3, [s["counts"] for s in samples]
    assert any(row["badge"] == "Done" for s in during for row in s["rows"])
    # Its own page told of its end: the top bar has no notice of it.
    expect(page.get_by_test_id("job-notice")).to_have_count(0)
    screenshot("success")


def test_it_tells_of_a_job_that_finished_while_its_operator_was_elsewhere(
    page: Page, console: str, live_operator, celery_worker, screenshot
) -> None:
    sign_in(page, console)
    job, item_ids = _start_held(page, live_operator, *(UserPlan(user_name=name) for name in ("ann", "bob", "cy")))
    page.goto(f"{console}/jobs/")
    nav = page.get_by_label("Identity and Access Management")
    expect(nav.locator(".nav-link.active")).to_have_text("Jobs")
    expect(page.get_by_test_id("job-users")).to_have_text("ann, bob, cy")
    expect(page.get_by_test_id("job-row")).to_contain_text("Add user wizard")

    page.goto(f"{console}/audit/")
    tasks.enqueue(item_ids)
    deadline = time.monotonic() + 30
    while Job.objects.get(pk=job.pk).finished_at is None:
        assert time.monotonic() < deadline, "the job did not finish"
        time.sleep(0.2)
    page.goto(f"{console}/users/")
    notice = page.get_by_test_id("job-notice")
    expect(notice).to_have_text("Add user (3 users) finished: 3 created — View")
    screenshot("1-notice")
    notice.get_by_role("button", name="Dismiss").click()
    expect(notice).to_have_count(0)
    page.reload()
    expect(page.get_by_test_id("job-notice")).to_have_count(0)  # told once

    page.goto(f"{console}/jobs/")
    page.get_by_test_id("job-row").get_by_role("link").click()
    page.wait_for_url(f"**/jobs/{job.id}/**")
    expect(nav.locator(".nav-link.active")).to_have_text("Jobs")
    expect(nav.get_by_role("link", name="Users")).not_to_have_class("nav-link active")


def test_a_row_drawn_by_a_poll_keeps_iams_error_text_as_text(page: Page, console: str, live_operator) -> None:
    sign_in(page, console)
    job, _ = _start_held(page, live_operator, UserPlan(user_name="ann"), UserPlan(user_name="bob"))
    dialogs: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    page.goto(f"{console}/jobs/{job.id}/")
    expect(page.locator("[data-item-steps]", has_text="Not started")).to_have_count(2)

    payload = '<img src=x onerror="alert(1)" data-planted>'
    at = "2026-01-01T00:00:00+00:00"
    step = {"step": "CreateUser", "status": "failed", "error_code": "AccessDenied", "error_message": payload}
    Job.objects.get(pk=job.pk).items.filter(user_name="ann").update(
        status="failed", error_code="AccessDenied", error_message=payload, steps=[{**step, "started_at": at, "at": at}]
    )
    ann = page.locator("tr", has_text="ann")
    expect(ann.get_by_test_id("item-steps")).to_contain_text(f"AccessDenied: {payload}")  # bob keeps it polling
    expect(ann.locator("[data-item-status]")).to_have_text("Failed")
    assert page.locator("[data-planted]").count() == 0 and dialogs == []


def test_a_poll_refused_for_a_recheck_at_the_idp_reloads_the_page(page: Page, console: str, live_operator) -> None:
    """A poll answered 403 `recheck_required` (users/oidc/recheck.py) reloads the page: the page
    load is what goes through the identity provider, and the polls then go on."""
    sign_in(page, console)
    job, _ = _start_held(page, live_operator, UserPlan(user_name="ann"))
    refused: list[str] = []

    def refuse_once(route: Route) -> None:
        if refused:
            route.continue_()
            return
        refused.append(route.request.url)
        body = '{"error": "recheck_required", "message": "Your sign-in must be confirmed: reload the page."}'
        route.fulfill(status=403, content_type="application/json", body=body)

    page.route("**/progress/**", refuse_once)
    loads: list[str] = []
    page.on("load", lambda loaded: loads.append(loaded.url))
    page.goto(f"{console}/jobs/{job.id}/")
    deadline = time.monotonic() + 10
    while len(loads) < 2:  # the page's own load, then the reload the refused poll asked for
        assert time.monotonic() < deadline, f"no reload after the refused poll: {loads}"
        page.wait_for_timeout(50)
    assert len(refused) == 1 and loads == [f"{console}/jobs/{job.id}/"] * 2
    expect(page.locator("[data-item-steps]", has_text="Not started")).to_have_count(1)
