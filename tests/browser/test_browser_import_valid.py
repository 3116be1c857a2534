"""Import what is valid, and Export users, in a real browser: a file with 2 bad and 3 good rows,
"Create the 3 valid users", the job creating them, the rows with errors downloaded, fixed and
imported; then the users list's search exported and imported into an emptied account. The jobs
run on a real Celery worker against the moto server."""

from __future__ import annotations

import csv
import io
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import FilePayload, Page, expect

from users.iam.gateway import IamGateway
from users.models import Job

from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HEADER = "user_name,groups,tags,console_access"
GOOD = ["dev-ann,Developers,team=web,no", "dev-ben,Developers;Ops,team=api,no", "ops-cy,Ops,,no"]
BAD = ["dev-dee,Nobody,team=web,no", "bad name!,Ops,,maybe"]


def _file(name: str, text: str) -> FilePayload:
    return {"name": name, "mimeType": "text/csv", "buffer": text.encode()}


def _upload(page: Page, name: str, text: str) -> None:
    page.get_by_label("CSV file").set_input_files(_file(name, text))
    page.get_by_role("button", name="Upload and check").click()


def _wait_for_users(gateway: IamGateway, names: set[str], page: Page) -> None:
    """The job's users exist: the job page moves on to its Success page once every one is done."""
    page.wait_for_url("**/credentials/", timeout=60_000)
    assert names <= {user.name for user in gateway.list_users()}


def _groups(gateway: IamGateway, name: str) -> list[str]:
    return sorted(group.name for group in gateway.list_groups_for_user(name))


def test_it_creates_the_valid_users_then_the_fixed_rows_then_exports_and_imports_users(
    page: Page, console: str, iam_server: str, live_operator, celery_worker, server_gateway, docs_screenshot
) -> None:
    server_gateway.create_group("Developers")
    server_gateway.create_group("Ops")
    sign_in(page, console)
    page.get_by_test_id("import-users").click()
    _upload(page, "team.csv", "\n".join([HEADER, GOOD[0], BAD[0], GOOD[1], BAD[1], GOOD[2]]))

    expect(page.get_by_test_id("rows-invalid")).to_have_text("2")
    expect(page.get_by_test_id("import-confirm")).to_have_count(0)
    offer = page.get_by_test_id("import-valid-offer")
    expect(offer).to_contain_text("3 of 5 users can be created. The 2 rows with errors are skipped")
    confirm = page.get_by_role("button", name="Create the 3 valid users")
    expect(confirm).to_be_visible()
    docs_screenshot("import-valid")

    # The rows with errors, as a file to fix.
    with page.expect_download() as download:
        page.get_by_test_id("import-bad-rows").click()
    assert download.value.suggested_filename == "team-errors.csv"
    bad_rows = Path(download.value.path()).read_text(encoding="utf-8")
    table = list(csv.reader(io.StringIO(bad_rows)))
    assert table[0][-1] == "errors" and [row[0] for row in table[1:]] == ["dev-dee", "bad name!"]
    assert "No such group: “Nobody”." in table[1][-1]

    confirm.click()
    _wait_for_users(server_gateway, {"dev-ann", "dev-ben", "ops-cy"}, page)
    assert {user.name for user in server_gateway.list_users()} == {"dev-ann", "dev-ben", "ops-cy"}
    job = Job.objects.get()
    assert job.items.count() == 3
    job_page = page.request.get(f"{console}/jobs/{job.id}/").text()
    assert "2 rows with errors of team.csv were skipped" in job_page

    # Fixed, the file of the rows with errors imports as it is (its errors column is ignored).
    fixed = bad_rows.replace("Nobody", "Developers").replace("bad name!", "dev-eve").replace("maybe", "no")
    page.goto(f"{console}/import/")
    _upload(page, "team-errors.csv", fixed)
    expect(page.get_by_test_id("rows-invalid")).to_have_text("0")
    page.get_by_role("button", name="Create 2 users").click()
    _wait_for_users(server_gateway, {"dev-dee", "dev-eve"}, page)
    assert _groups(server_gateway, "dev-eve") == ["Ops"]

    # Export the list's search: the dev- users only.
    page.goto(f"{console}/users/")
    page.get_by_placeholder("Search by user name or access key ID").fill("dev-")
    page.get_by_role("button", name="Search", exact=True).click()
    with page.expect_download() as download:
        page.get_by_test_id("export-users").click()
    exported = Path(download.value.path()).read_text(encoding="utf-8")
    names = [row[0] for row in csv.reader(io.StringIO(exported))][1:]
    assert names == ["dev-ann", "dev-ben", "dev-dee", "dev-eve"]

    # Into a fresh account with the same groups: the same users, groups and tags.
    reset = urllib.request.Request(f"{iam_server}/moto-api/reset", method="POST")
    with urllib.request.urlopen(reset, timeout=30):
        pass
    server_gateway.create_group("Developers")
    server_gateway.create_group("Ops")
    page.goto(f"{console}/import/")
    _upload(page, "users.csv", exported)
    expect(page.get_by_test_id("rows-invalid")).to_have_text("0")
    page.get_by_role("button", name="Create 4 users").click()
    _wait_for_users(server_gateway, set(names), page)
    assert {user.name for user in server_gateway.list_users()} == set(names)
    assert _groups(server_gateway, "dev-ben") == ["Developers", "Ops"]
    assert dict(server_gateway.get_user("dev-ben").tags)["team"] == "api"
