"""Import users in a real browser: upload a CSV, see the dry run refuse a bad row, upload the
fixed file, confirm, watch the progress bar reach 100 %, download the credentials CSV.
The job runs on a real Celery worker against the moto server."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, FilePayload, Page, expect

from users.exports import CSV_HEADER

from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

USERS = 30  # more than the Success page lists one by one: the CSV carries the secrets
HEADER = "user_name,groups,tags,console_access,programmatic_access"

# Reports each value the progress bar takes on the console, where the test collects it across
# the redirect to the Success page.
WATCH_PROGRESS = """
new MutationObserver(() => {
  const meter = document.querySelector("[role=progressbar]");
  if (meter) console.log("progress " + meter.getAttribute("aria-valuenow"));
}).observe(document, {subtree: true, attributes: true, attributeFilter: ["aria-valuenow"]});
"""


def _file(rows: list[str]) -> FilePayload:
    return {"name": "team.csv", "mimeType": "text/csv", "buffer": "\n".join([HEADER, *rows]).encode()}


def _upload(page: Page, rows: list[str]) -> None:
    page.get_by_label("CSV file").set_input_files(_file(rows))
    page.get_by_role("button", name="Upload and check").click()


def test_it_imports_users_from_a_csv_after_a_dry_run(
    page: Page, console: str, live_operator, celery_worker, server_gateway, screenshot
) -> None:
    server_gateway.create_group("Developers")
    rows = [f"dev{i:02d},Developers,team=web,yes,yes" for i in range(USERS)]
    progress: list[int] = []

    def record(message: ConsoleMessage) -> None:
        if message.text.startswith("progress "):
            progress.append(int(message.text.split()[1]))

    page.on("console", record)
    page.add_init_script(WATCH_PROGRESS)
    sign_in(page, console)
    page.get_by_test_id("import-users").click()
    expect(page.get_by_role("heading", name="Import users")).to_be_visible()

    _upload(page, [*rows[:-1], "dev29,Nobody,team=web,yes,yes"])
    expect(page.get_by_test_id("rows-invalid")).to_have_text("1")
    bad = page.get_by_test_id("import-row")
    expect(bad).to_have_count(1)
    expect(bad.get_by_test_id("row-errors")).to_contain_text("No such group: “Nobody”.")
    expect(page.get_by_test_id("import-confirm")).to_have_count(0)
    screenshot("1-dry-run-with-an-error")
    assert server_gateway.list_users() == []

    page.get_by_role("link", name="upload it again").click()
    _upload(page, rows)
    expect(page.get_by_test_id("rows-invalid")).to_have_text("0")
    expect(page.get_by_test_id("import-cli")).to_contain_text("aws iam create-user --user-name dev00")
    screenshot("2-dry-run-ready")
    page.get_by_test_id("import-confirm").click()

    page.wait_for_url("**/credentials/", timeout=60_000)
    assert progress and progress[-1] == 100 and progress == sorted(progress)
    waiting = page.get_by_test_id("credentials-waiting")
    expect(waiting).to_contain_text(f"{USERS} users have credentials waiting")
    expect(waiting).to_contain_text(f"{USERS} passwords and {USERS} secret access keys")
    screenshot("3-credentials")

    with page.expect_download() as download:
        page.get_by_test_id("download-csv").click()
    assert download.value.suggested_filename == "credentials.csv"
    table = list(csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert tuple(table[0]) == CSV_HEADER
    by_user = {row[0]: row for row in table[1:]}
    assert sorted(by_user) == [f"dev{i:02d}" for i in range(USERS)]
    for name, (_, password, key_id, secret, link) in by_user.items():
        assert [key.access_key_id for key in server_gateway.list_access_keys(name)] == [key_id]
        assert password and len(secret) == 40 and link.endswith(".signin.aws.amazon.com/console")
        assert server_gateway.get_login_profile(name) is not None
        assert [group.name for group in server_gateway.list_groups_for_user(name)] == ["Developers"]
    assert len(server_gateway.list_users()) == USERS
