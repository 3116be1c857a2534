"""The `~/.aws/credentials` snippet in a real browser (issue 17): downloaded from a job's Success
page and from a new access key's page, read by botocore as a credentials file, and its keys
tried against the moto server."""

from __future__ import annotations

import configparser
from pathlib import Path

import boto3
import botocore.session
import pytest
from playwright.sync_api import Page, expect

from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _profiles(path: Path) -> dict[str, dict[str, str]]:
    parser = configparser.RawConfigParser()  # as botocore reads it: strict, no interpolation
    parser.read_string(path.read_text(encoding="utf-8"))
    return {section: dict(parser[section]) for section in parser.sections()}


def _caller(credentials_file: Path, profile: str, iam_server: str) -> str:
    """The IAM user the profile's key belongs to, as IAM sees it (GetUser without a name), with
    the credentials taken from the downloaded file by botocore itself."""
    session = botocore.session.Session(profile=profile)
    session.set_config_variable("credentials_file", str(credentials_file))
    session.set_config_variable("config_file", str(credentials_file.with_suffix(".none")))
    credentials = session.get_credentials()
    assert credentials is not None and credentials.method == "shared-credentials-file"
    client = boto3.Session(botocore_session=session, region_name="us-east-1").client("iam", endpoint_url=iam_server)
    return str(client.get_user()["User"]["UserName"])


def test_it_downloads_the_new_users_keys_from_the_success_page(
    page: Page, console: str, iam_server: str, live_operator, server_gateway, celery_worker, docs_screenshot
) -> None:
    sign_in(page, console)
    page.goto(f"{console}/users/create/")
    page.get_by_label("User name*").fill("arthur")
    page.get_by_role("button", name="Add another user").click()
    page.locator("input[data-user-name]:visible").last.fill("ford")
    page.get_by_label("Programmatic access").check()
    page.get_by_label("AWS Management Console access").check()
    for _ in range(3):
        page.get_by_test_id("wizard-next").click()
    page.get_by_role("button", name="Create users").click()
    expect(page.get_by_text("You successfully created the users shown below.")).to_be_visible(timeout=30_000)
    success_url = page.url

    expect(page.get_by_test_id("download-csv")).to_be_visible()
    button = page.get_by_role("button", name="Download ~/.aws/credentials snippet")
    expect(button).to_be_visible()
    docs_screenshot("credentials-snippet")
    with page.expect_download() as download:
        button.click()
    assert download.value.suggested_filename == "aws-credentials-123456789012.ini"
    path = Path(download.value.path())
    profiles = _profiles(path)
    assert list(profiles) == ["arthur", "ford"]
    for name in ("arthur", "ford"):
        [key] = server_gateway.list_access_keys(name)
        assert profiles[name]["aws_access_key_id"] == key.access_key_id
        assert _caller(path, name, iam_server) == name
    assert "# IAM user arthur, AWS account 123456789012" in path.read_text(encoding="utf-8")

    # The page stays, its secrets with it: the file holds what Show shows.
    assert page.url == success_url
    row = page.get_by_test_id("credentials-row").filter(has_text="arthur")
    row.get_by_role("button", name="Show secret access key").click()
    shown = row.locator("[data-secret]").first.inner_text()
    assert profiles["arthur"]["aws_secret_access_key"] == shown

    # Close ends it as it ends the .csv.
    page.get_by_test_id("close-credentials").click()
    expect(page).to_have_url(f"{console}/users/")
    token = next(c["value"] for c in page.context.cookies() if c["name"].endswith("csrftoken"))
    again = page.request.post(
        success_url.replace("/credentials/", "/credentials-file/"), headers={"X-CSRFToken": token}
    )
    assert again.status == 410


def test_it_downloads_a_new_access_key_as_a_profile(
    page: Page, console: str, iam_server: str, live_operator, server_gateway
) -> None:
    server_gateway.create_user("marvin")
    sign_in(page, console)
    page.goto(f"{console}/users/details/marvin/")
    page.get_by_test_id("tab-security_credentials").click()
    page.get_by_test_id("create-access-key").click()
    page.get_by_label("Command Line Interface (CLI)").check()
    page.get_by_label("I understand the above recommendation and want to proceed to create an access key.").check()
    page.get_by_role("button", name="Next").click()
    page.get_by_role("button", name="Create access key").click()

    expect(page.get_by_role("heading", name="Retrieve access keys")).to_be_visible()
    key_id = page.get_by_test_id("access-key-id").inner_text()
    page.get_by_role("button", name="Show secret access key").click()
    secret = page.get_by_test_id("secret").inner_text()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download ~/.aws/credentials snippet").click()
    assert download.value.suggested_filename == "marvin_aws-credentials.ini"
    path = Path(download.value.path())
    assert _profiles(path) == {"marvin": {"aws_access_key_id": key_id, "aws_secret_access_key": secret}}
    assert _caller(path, "marvin", iam_server) == "marvin"
    assert [key.access_key_id for key in server_gateway.list_access_keys("marvin")] == [key_id]

    page.get_by_role("button", name="Done").click()
    expect(page.get_by_role("heading", name="marvin")).to_be_visible()
