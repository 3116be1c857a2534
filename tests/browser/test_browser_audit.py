"""The audit trail in a real browser: an operator creates a group, finds the change on the
audit page with each filter and the search, and downloads the filtered rows as CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect

from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_shows_filters_and_exports_the_operators_changes(
    page: Page, console: str, live_operator, server_gateway, screenshot
) -> None:
    server_gateway.create_user("arthur")
    sign_in(page, console)
    page.get_by_role("link", name="User groups").click()
    page.get_by_role("link", name="Create group").click()
    page.get_by_label("User group name").fill("Auditors")
    page.get_by_role("button", name="Create user group").click()
    expect(page.get_by_text("User group Auditors created.")).to_be_visible()

    page.get_by_role("link", name="Audit trail").click()
    rows = page.get_by_test_id("audit-row")
    expect(rows.first).to_contain_text("CreateGroup")  # newest first
    expect(page.get_by_test_id("audit-table")).to_contain_text("SignIn")

    today = datetime.now(UTC).date().isoformat()
    page.get_by_label("Target user or group").fill("Auditors")
    page.get_by_label("Action", exact=True).fill("CreateGroup")
    page.get_by_label("Outcome", exact=True).select_option("success")
    page.get_by_label("From", exact=True).fill(today)
    page.get_by_label("To", exact=True).fill(today)
    page.get_by_role("button", name="Search").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("alice")
    screenshot("filtered")

    page.get_by_label("Outcome", exact=True).select_option("failure")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("No events match.")).to_be_visible()

    page.get_by_label("To", exact=True).fill("2020-01-01")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_test_id("end-error")).to_contain_text("The end date must not be before the start date.")

    page.get_by_role("link", name="Clear filters").click()
    page.get_by_label("Search", exact=True).fill("signin")
    page.get_by_role("button", name="Search").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("SignIn")

    page.get_by_role("link", name="Clear filters").click()
    page.get_by_label("Action", exact=True).fill("CreateGroup")
    page.get_by_role("button", name="Search").click()
    with page.expect_download() as download:
        page.get_by_test_id("audit-export").click()
    lines = list(csv.reader(io.StringIO(download.value.path().read_text())))
    assert download.value.suggested_filename == "audit-events.csv"
    assert [line[1:5] for line in lines] == [
        ["Operator", "Action", "Target", "Outcome"],
        ["alice", "CreateGroup", "Auditors", "success"],
    ]

    page.goto(f"{console}/users/details/arthur/")
    page.get_by_role("link", name="This user's audit events").click()
    expect(page.get_by_label("Target user or group")).to_have_value("arthur")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("CreateUser")
    screenshot("user-events")
