"""The plan as Terraform in a real browser: download iam-users.tf at the wizard's Review and from
an import's dry run, and read it back with python-hcl2 (tests/hcl.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import FilePayload, Page, expect

from tests.hcl import Ref, resources
from users.plans.terraform import FILE_NAME

from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHANGE_PASSWORD = "arn:aws:iam::aws:policy/IAMUserChangePassword"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
CUSTOM_PASSWORD = "Terraform-Canary-42!"


def _download(page: Page, test_id: str) -> str:
    with page.expect_download() as download_info:
        page.get_by_test_id(test_id).click()
    download = download_info.value
    assert download.suggested_filename == FILE_NAME
    return Path(download.path()).read_text(encoding="utf-8")


def test_it_downloads_the_review_as_terraform_and_creates_what_it_says(
    page: Page, console: str, live_operator, server_gateway, celery_worker, docs_screenshot
) -> None:
    server_gateway.create_group("Developers")
    sign_in(page, console)
    page.goto(f"{console}/users/create/")
    page.get_by_label("User name*").fill("arthur")
    page.get_by_role("button", name="Add another user").click()
    page.locator("input[data-user-name]:visible").last.fill("ford.prefect")
    page.get_by_label("Programmatic access").check()
    page.get_by_label("AWS Management Console access").check()
    page.get_by_role("radio", name="Custom password").check()
    page.get_by_placeholder("Enter a custom password").fill(CUSTOM_PASSWORD)
    page.get_by_test_id("wizard-next").click()

    expect(page.get_by_role("heading", name="Set permissions")).to_be_visible()
    page.get_by_label("Developers").check()
    page.get_by_text("Set permissions boundary").click()
    page.get_by_label("Use a permissions boundary to control the maximum user permissions").check()
    boundary = page.get_by_test_id("boundary-picker")
    boundary.get_by_label("Filter boundary policies by Type").select_option("AWS managed - job function")
    boundary.get_by_label("Search boundary policies").fill("ReadOnlyAccess")
    expect(boundary.locator("[data-picker-where]")).to_have_text("Page 1 of 1 · 1 policy")
    boundary.get_by_label("ReadOnlyAccess", exact=True).check()
    page.get_by_test_id("wizard-next").click()

    expect(page.get_by_role("heading", name="Add tags (optional)")).to_be_visible()
    page.get_by_placeholder("Add new key").first.fill("team")
    page.get_by_label("Value - optional").first.fill("heart of gold")
    page.get_by_test_id("wizard-next").click()

    expect(page.get_by_role("heading", name="Review")).to_be_visible()
    page.get_by_text("Terraform configuration").click()
    expect(page.get_by_test_id("review-terraform")).to_contain_text('resource "aws_iam_user" "ford_prefect" {')
    # The Tags card above, then the offer and the file (no smooth scrolling: the picture is taken at once).
    page.get_by_role("heading", name="Plan as code").evaluate(
        "h => window.scrollTo({top: h.getBoundingClientRect().top + window.scrollY - 200, behavior: 'instant'})"
    )
    docs_screenshot("terraform-plan")

    text = _download(page, "review-terraform-download")
    assert CUSTOM_PASSWORD not in text
    found = resources(text)
    assert found["aws_iam_user", "ford_prefect"] == {
        "name": "ford.prefect",
        "permissions_boundary": READ_ONLY,
        "tags": {"team": "heart of gold"},
    }
    user = Ref("aws_iam_user.ford_prefect.name")
    assert found["aws_iam_user_group_membership", "ford_prefect"] == {"user": user, "groups": ["Developers"]}
    assert found["aws_iam_user_login_profile", "ford_prefect"]["password_reset_required"] is True
    assert found["aws_iam_user_policy_attachment", "ford_prefect_iamuserchangepassword"] == {
        "user": user,
        "policy_arn": CHANGE_PASSWORD,
    }
    assert found["aws_iam_access_key", "ford_prefect"] == {"user": user}
    assert {body["name"] for (kind, _), body in found.items() if kind == "aws_iam_user"} == {"arthur", "ford.prefect"}

    # The download left the wizard at its Review: Create makes what the file describes.
    expect(page.get_by_role("heading", name="Review")).to_be_visible()
    page.get_by_role("button", name="Create users").click()
    expect(page.get_by_text("You successfully created the users shown below.")).to_be_visible(timeout=30_000)
    assert [group.name for group in server_gateway.list_groups_for_user("ford.prefect")] == ["Developers"]
    assert server_gateway.get_user("ford.prefect").permissions_boundary_arn == READ_ONLY
    assert [policy.arn for policy in server_gateway.list_attached_user_policies("ford.prefect")] == [CHANGE_PASSWORD]


def test_it_downloads_the_valid_rows_of_an_import_dry_run(
    page: Page, console: str, live_operator, server_gateway
) -> None:
    server_gateway.create_group("Developers")
    rows = [
        "user_name,groups,policies,tags,console_access,programmatic_access",
        "zaphod,Developers,ReadOnlyAccess,team=heart of gold,yes,yes",
        "trillian,,,,no,yes",
        "marvin,Nobody,,,no,no",
    ]
    file: FilePayload = {"name": "crew.csv", "mimeType": "text/csv", "buffer": "\n".join(rows).encode()}
    sign_in(page, console)
    page.get_by_test_id("import-users").click()
    page.get_by_label("CSV file").set_input_files(file)
    page.get_by_role("button", name="Upload and check").click()
    expect(page.get_by_test_id("rows-invalid")).to_have_text("1")
    expect(page.get_by_test_id("import-terraform-download")).to_have_text(
        "Download Terraform for the 2 valid users (.tf)"
    )
    page.get_by_text("Terraform configuration for line 2 (zaphod)").click()
    expect(page.get_by_test_id("import-terraform")).to_contain_text('resource "aws_iam_user" "zaphod" {')

    text = _download(page, "import-terraform-download")
    assert "the dry run of crew.csv (1 row with errors left out)" in text
    found = resources(text)
    assert {body["name"] for (kind, _), body in found.items() if kind == "aws_iam_user"} == {"zaphod", "trillian"}
    assert found["aws_iam_user", "zaphod"]["tags"] == {"team": "heart of gold"}
    assert found["aws_iam_user_policy_attachment", "zaphod_readonlyaccess"]["policy_arn"] == READ_ONLY
    assert ("aws_iam_user_login_profile", "zaphod") in found and ("aws_iam_access_key", "trillian") in found
    assert server_gateway.list_users() == []  # a dry run and its file create nothing
