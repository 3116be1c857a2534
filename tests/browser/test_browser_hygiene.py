"""The access-key hygiene page in a real browser: stale keys (aged in the moto server's state,
which runs in this process) and a console user without MFA, the threshold refused next to its
field, a key's Rotate (found in IAM by its creation time), Deactivate of the selected keys
(named as the credential report names them: user, slot, creation time) through a confirmation
that reads their ids and a job on a real Celery worker with each key's result on the job's
page, and the CSV export. With SCREENSHOTS_DIR set, it
saves the README's picture (docs/img/hygiene.png)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.iam.models import AccessKeyLastUsed, iam_backends
from playwright.sync_api import Page, expect

from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _days_ago(days: int) -> datetime:
    return datetime.now(UTC).replace(tzinfo=None) - timedelta(days=days)


def _arrange(gateway) -> dict[str, str]:
    """ford: a key 200 days old, used last month, and a new one in use; arthur: a key 120 days
    old never used and a console password without MFA; marvin: 400 days old, used 150 days
    ago; zaphod: a key in use. Their ages are set in the moto server's own state."""
    for name in ("ford", "arthur", "marvin", "zaphod"):
        gateway.create_user(name)
    ids = {name: gateway.create_access_key(name).access_key_id for name in ("ford", "arthur", "marvin", "zaphod")}
    ids["ford-new"] = gateway.create_access_key("ford").access_key_id
    gateway.create_login_profile("arthur", "Hygiene-Passw0rd!", reset_required=False)
    users = iam_backends[DEFAULT_ACCOUNT_ID]["aws"].users
    ford_old, ford_new = users["ford"].access_keys
    ford_old.create_date = _days_ago(200)
    ford_old.last_used = AccessKeyLastUsed(_days_ago(30), "s3", "us-east-1")
    ford_new.last_used = AccessKeyLastUsed(_days_ago(0), "s3", "us-east-1")
    users["arthur"].access_keys[0].create_date = _days_ago(120)
    users["marvin"].access_keys[0].create_date = _days_ago(400)
    users["marvin"].access_keys[0].last_used = AccessKeyLastUsed(_days_ago(150), "ec2", "eu-west-1")
    users["zaphod"].access_keys[0].last_used = AccessKeyLastUsed(_days_ago(0), "s3", "us-east-1")
    return ids


def test_it_finds_stale_keys_deactivates_the_selected_ones_and_exports_the_report(
    page: Page, console: str, live_operator, server_gateway, celery_worker, docs_screenshot, tmp_path: Path
) -> None:
    ids = _arrange(server_gateway)
    sign_in(page, console)
    page.get_by_role("link", name="Access key hygiene").click()
    expect(page.get_by_role("heading", name="Access key hygiene")).to_be_visible()
    expect(page.get_by_role("heading", name="Stale access keys (3)")).to_be_visible()
    rows = page.get_by_test_id("stale-key")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("marvin Key 1")
    expect(rows.nth(0)).to_contain_text("400 days old; unused for 150 days")
    expect(rows.nth(1)).to_contain_text("ford Key 1")
    expect(rows.nth(2)).to_contain_text("arthur Key 1")
    expect(rows.nth(2)).to_contain_text("120 days old; never used")
    for key_id in ids.values():  # the page reads the credential report alone, which names no key
        expect(page.get_by_test_id("stale-keys")).not_to_contain_text(key_id)
    expect(page.get_by_test_id("no-mfa-user")).to_have_text("arthur Never Assign MFA device")

    deactivate = page.get_by_test_id("deactivate-keys")
    expect(deactivate).to_be_disabled()
    page.get_by_label("Select Key 1 of marvin").check()
    page.get_by_label("Select Key 1 of ford").check()
    expect(deactivate).to_be_enabled()
    docs_screenshot("hygiene")

    # A threshold that is not a number of days is refused next to its field.
    page.get_by_label("Days (default 90)").fill("0")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_test_id("days-error")).to_have_text("Enter a whole number of days from 1 to 3650.")
    expect(page.get_by_test_id("stale-key")).to_have_count(0)
    page.get_by_label("Days (default 90)").fill("300")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_test_id("stale-key")).to_have_count(1)

    # Each row leads to its key's guided Rotate.
    page.goto(f"{console}/hygiene/")
    page.get_by_test_id("stale-key").nth(1).get_by_role("link", name="Rotate").click()
    expect(page.get_by_role("heading", name=f"Rotate access key {ids['ford']}")).to_be_visible()

    page.go_back()
    page.get_by_label("Select Key 1 of marvin").check()
    page.get_by_label("Select Key 1 of ford").check()
    page.get_by_test_id("deactivate-keys").click()
    expect(page.get_by_role("heading", name="Deactivate 2 access keys?")).to_be_visible()
    confirm_rows = page.get_by_test_id("key-to-deactivate")
    expect(confirm_rows.nth(0)).to_contain_text("marvin Key 1")
    expect(confirm_rows.nth(0)).to_contain_text(f"{ids['marvin']} Active")
    expect(confirm_rows.nth(1)).to_contain_text(f"{ids['ford']} Active")
    page.get_by_test_id("confirm-deactivate").click()

    expect(page.get_by_role("heading", name="Deactivate access keys", exact=True)).to_be_visible()
    expect(page.get_by_test_id("job-finished")).to_be_visible(timeout=20_000)
    expect(page.get_by_test_id("job-finished")).to_contain_text("The selected access keys of 2 users are inactive")
    steps = page.get_by_test_id("job-items")
    expect(steps).to_contain_text(f"UpdateAccessKey {ids['marvin']} — Deactivated")
    expect(steps).to_contain_text(f"UpdateAccessKey {ids['ford']} — Deactivated")
    expect(page.get_by_test_id("job-retry")).to_have_count(0)
    statuses = {
        key.access_key_id: key.status for name in ("ford", "marvin") for key in server_gateway.list_access_keys(name)
    }
    assert statuses == {ids["ford"]: "Inactive", ids["ford-new"]: "Active", ids["marvin"]: "Inactive"}

    # Back on the page, the deactivated keys can no longer be selected.
    page.goto(f"{console}/hygiene/")
    expect(page.get_by_test_id("stale-key")).to_have_count(1)  # arthur's; the others are inactive now
    expect(page.get_by_test_id("stale-key")).to_contain_text("arthur Key 1")

    with page.expect_download() as download:
        page.get_by_test_id("hygiene-export").click()
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    assert download.value.suggested_filename.startswith("access_key_hygiene_90d_")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "User name,Finding,Access key,Created,Last used,Reason"
    assert [line.split(",")[:2] for line in lines[1:]] == [
        ["arthur", "Stale access key"],
        ["arthur", "Console access without MFA"],
    ]
