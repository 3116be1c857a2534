"""A job's pages in a real browser: live progress, the Success page's Show/Hide, Close and Back
(RELIABILITY.md S6), and a failed user's steps with Retry. Jobs run on a real Celery worker."""

from __future__ import annotations

from unittest import mock

import pytest
from playwright.sync_api import Page, expect

from users import credentials, jobs, tasks
from users.models import Job
from users.provisioning import UserPlan

from .conftest import browser_session, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CANARY = "Canary-Passw0rd!b9"


def _start(page: Page, operator, *plans: UserPlan, custom_password: str | None = None) -> Job:
    session = browser_session(page)
    job = jobs.start_job(
        operator=operator,
        source=Job.Source.WIZARD,
        plans=list(plans),
        custom_password=custom_password,
        session=session,
    )
    session.save()
    return job


def _start_held(page: Page, operator, *plans: UserPlan, custom_password: str | None = None) -> tuple[Job, list[int]]:
    """A job whose messages are not sent yet: the page is seen before the worker starts."""
    with mock.patch.object(tasks, "enqueue") as enqueue:
        job = _start(page, operator, *plans, custom_password=custom_password)
    return job, list(enqueue.call_args.args[0])


def _browser_state(page: Page) -> str:
    storage: str = page.evaluate("() => JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])")
    cookies = "".join(f"{c['name']}={c['value']}" for c in page.context.cookies())
    return storage + cookies + page.url


def test_it_follows_a_job_to_its_credentials_and_leaves_no_secret_behind(
    page: Page, console: str, live_operator, celery_worker, screenshot
) -> None:
    sign_in(page, console)
    plans = [
        UserPlan(user_name="ann", console_access=True, custom_password=True, programmatic_access=True),
        UserPlan(user_name="bob", programmatic_access=True),
    ]
    job, item_ids = _start_held(page, live_operator, *plans, custom_password=CANARY)
    page.goto(f"{console}/jobs/{job.id}/")
    expect(page.get_by_test_id("job-counts")).to_contain_text("0 of 2")
    screenshot("1-queued")

    tasks.enqueue(item_ids)
    page.wait_for_url(f"**/jobs/{job.id}/credentials/", timeout=20_000)
    expect(page.get_by_text("You successfully created the users shown below.")).to_be_visible()
    screenshot("2-success")
    secret = credentials.take(batch=str(job.id), operator_id=live_operator.id, item="access-key:bob")

    rows = page.get_by_test_id("credentials-row")
    ann, bob = rows.nth(0), rows.nth(1)
    expect(ann.get_by_test_id("secret").last).to_have_text("********")
    ann.get_by_role("button", name="Show password").click()
    expect(ann.get_by_test_id("secret").last).to_have_text(CANARY)
    bob.get_by_role("button", name="Show secret access key").click()
    expect(bob.get_by_test_id("secret")).to_have_text(secret["secret_access_key"])
    bob.get_by_role("button", name="Hide secret access key").click()
    expect(bob.get_by_test_id("secret")).to_have_text("********")
    expect(bob.get_by_role("link", name="Send email")).to_have_count(0)
    assert CANARY not in _browser_state(page)

    page.get_by_role("button", name="Close").click()
    page.wait_for_url(f"{console}/users/")
    expect(page.get_by_text("can no longer be retrieved")).to_be_visible()
    assert CANARY not in _browser_state(page)

    page.go_back()
    expect(page.get_by_text("These credentials are no longer available.")).to_be_visible()
    screenshot("3-back-after-close")
    content = page.content()
    assert CANARY not in content and secret["secret_access_key"] not in content


def test_it_shows_a_failed_step_and_retries_it(
    page: Page, console: str, live_operator, celery_worker, server_gateway, screenshot
) -> None:
    sign_in(page, console)
    job = _start(page, live_operator, UserPlan(user_name="cy", programmatic_access=True, groups=("Auditors",)))
    page.goto(f"{console}/jobs/{job.id}/")
    failed = page.get_by_test_id("job-failed")
    expect(failed).to_be_visible(timeout=20_000)
    steps = page.get_by_test_id("item-steps")
    expect(steps).to_contain_text("✓ CreateUser")
    expect(steps).to_contain_text("NoSuchEntity")
    expect(steps).to_contain_text("not run")
    screenshot("1-failed")

    server_gateway.create_group("Auditors")
    page.get_by_role("button", name="Retry failed users").click()
    page.wait_for_url(f"**/jobs/{job.id}/credentials/", timeout=20_000)
    expect(page.get_by_test_id("credentials-row")).to_have_count(1)
    assert [g.name for g in server_gateway.list_groups_for_user("cy")] == ["Auditors"]
    assert len(server_gateway.list_access_keys("cy")) == 1
