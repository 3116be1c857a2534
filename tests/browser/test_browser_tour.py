"""The README's tour in a real browser: the users list, the Add user wizard's Review, a job's
progress and its Success page, an import's dry run and a user's details page, each checked as a
person sees it. With SCREENSHOTS_DIR set (`make screenshots`), each step also saves the picture
the README shows (docs/img/<name>.png). Jobs run on a real Celery worker against the moto server."""

from __future__ import annotations

from unittest import mock

import pytest
from playwright.sync_api import FilePayload, Page, expect

from users import tasks

from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
POWER_USER = "arn:aws:iam::aws:policy/PowerUserAccess"
LIST_BUCKETS = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}],
}
NEW_USERS = ("ford", "trillian", "zaphod", "marvin")


def _arrange_team(gateway) -> None:
    """A small account: two groups with policies, and users with keys, passwords and tags."""
    gateway.create_group("Developers")
    gateway.attach_group_policy("Developers", POWER_USER)
    gateway.create_group("Auditors")
    gateway.attach_group_policy("Auditors", READ_ONLY)
    for name, group in (("arthur", "Developers"), ("tricia", "Developers"), ("slartibartfast", "Auditors")):
        gateway.create_user(name, tags={"team": "web" if group == "Developers" else "audit"})
        gateway.add_user_to_group(group, name)
        gateway.create_access_key(name)
    gateway.create_login_profile("arthur", "Tour-Passw0rd!42", reset_required=False)
    gateway.create_user("build-bot", path="/service/")
    gateway.attach_user_policy("build-bot", READ_ONLY)
    gateway.put_user_policy("arthur", "list-buckets", LIST_BUCKETS)


def test_the_users_list(page: Page, console: str, live_operator, server_gateway, docs_screenshot) -> None:
    _arrange_team(server_gateway)
    sign_in(page, console)
    expect(page.get_by_role("heading", name="IAM users (4)")).to_be_visible()
    table = page.get_by_test_id("users-table")
    expect(table.get_by_role("row", name="arthur")).to_contain_text("Developers")
    expect(table.get_by_role("row", name="slartibartfast")).to_contain_text("Auditors")
    expect(table.get_by_role("row", name="build-bot")).to_contain_text("/service/")
    docs_screenshot("users-list")


def test_the_wizard_its_job_and_its_success_page(
    page: Page, console: str, live_operator, server_gateway, celery_worker, docs_screenshot
) -> None:
    _arrange_team(server_gateway)
    sign_in(page, console)
    page.get_by_role("link", name="Add users").click()
    page.get_by_label("User name*").fill(NEW_USERS[0])
    for name in NEW_USERS[1:]:
        page.get_by_role("button", name="Add another user").click()
        page.locator("input[data-user-name]:visible").last.fill(name)
    page.get_by_label("Programmatic access").check()
    page.get_by_label("AWS Management Console access").check()
    page.get_by_test_id("wizard-next").click()

    expect(page.get_by_role("heading", name="Set permissions")).to_be_visible()
    page.get_by_label("Developers").check()
    page.get_by_test_id("wizard-next").click()
    page.get_by_label("Key", exact=True).first.fill("team")
    page.get_by_label("Value - optional").first.fill("web")
    page.get_by_test_id("wizard-next").click()

    expect(page.get_by_role("heading", name="Review")).to_be_visible()
    expect(page.get_by_test_id("review-details")).to_contain_text(", ".join(NEW_USERS))
    expect(page.get_by_test_id("review-permissions")).to_contain_text("Developers")
    docs_screenshot("wizard-review", full_page=True)

    # The job's messages are held back, then sent in two halves: the page shows a job half done.
    with mock.patch.object(tasks, "enqueue") as enqueue:
        page.get_by_role("button", name="Create users").click()
        page.wait_for_url("**/jobs/*/")
        item_ids = list(enqueue.call_args.args[0])
    expect(page.get_by_test_id("job-counts")).to_contain_text(f"0 of {len(NEW_USERS)}")
    tasks.enqueue(item_ids[:2])
    counts = page.get_by_test_id("job-counts")
    expect(counts).to_contain_text(f"2 of {len(NEW_USERS)} processed", timeout=30_000)
    expect(counts).to_contain_text("Done 2")
    expect(page.locator("[data-item-status]", has_text="Queued")).to_have_count(2)
    docs_screenshot("job-progress")

    tasks.enqueue(item_ids[2:])
    expect(page.get_by_text("You successfully created the users shown below.")).to_be_visible(timeout=30_000)
    rows = page.get_by_test_id("credentials-row")
    expect(rows).to_have_count(len(NEW_USERS))
    secrets = page.get_by_test_id("secret")
    expect(secrets).to_have_count(2 * len(NEW_USERS))  # a password and a secret access key each
    expect(secrets).to_have_text(["********"] * 2 * len(NEW_USERS))  # shown only on Show
    docs_screenshot("wizard-success")
    for name in NEW_USERS:
        assert [group.name for group in server_gateway.list_groups_for_user(name)] == ["Developers"]


def _csv(rows: list[str]) -> FilePayload:
    lines = ["user_name,groups,tags,console_access,programmatic_access", *rows]
    return {"name": "new-team.csv", "mimeType": "text/csv", "buffer": "\n".join(lines).encode()}


def test_an_imports_dry_run(page: Page, console: str, live_operator, server_gateway, docs_screenshot) -> None:
    _arrange_team(server_gateway)
    rows = [f"{name},Developers,team=web,yes,yes" for name in ("eddie", "fenchurch", "random", "lunkwill")]
    rows += ["Arthur,Developers,team=web,yes,no", "fook,Designers,team=web,no,yes", "vroomfondel,Auditors,,no,yes"]
    sign_in(page, console)
    page.get_by_test_id("import-users").click()
    page.get_by_label("CSV file").set_input_files(_csv(rows))
    page.get_by_role("button", name="Upload and check").click()

    expect(page.get_by_test_id("rows-total")).to_have_text("7")
    expect(page.get_by_test_id("rows-invalid")).to_have_text("2")
    page.get_by_role("link", name="Show all rows").click()
    expect(page.get_by_test_id("import-row")).to_have_count(7)
    errors = page.get_by_test_id("row-errors")
    expect(errors.first).to_contain_text("A user named arthur already exists.")
    expect(errors.last).to_contain_text("No such group: “Designers”.")
    expect(page.get_by_test_id("import-confirm")).to_have_count(0)
    docs_screenshot("import-dry-run")
    assert len(server_gateway.list_users()) == 4


def test_a_users_details_page(page: Page, console: str, live_operator, server_gateway, docs_screenshot) -> None:
    _arrange_team(server_gateway)
    server_gateway.attach_user_policy("arthur", READ_ONLY)
    sign_in(page, console)
    page.get_by_test_id("users-table").get_by_role("link", name="arthur").click()

    expect(page.get_by_role("heading", name="arthur", exact=True)).to_be_visible()
    expect(page.get_by_test_id("arn")).to_have_text("arn:aws:iam::123456789012:user/arthur")
    expect(page.get_by_test_id("console-access")).to_contain_text("Enabled without MFA")
    policies = page.get_by_test_id("tab-permissions")
    expect(policies).to_have_attribute("aria-current", "page")
    for name in ("ReadOnlyAccess", "PowerUserAccess", "list-buckets"):
        expect(page.get_by_role("row", name=name)).to_be_visible()
    docs_screenshot("user-details")
