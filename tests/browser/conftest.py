"""Browser fixtures: Playwright driving Debian's Chromium against pytest-django's live_server,
with IAM served by the embedded moto server (reset before each test)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import Browser, Page, sync_playwright
from pytest_django.live_server_helper import LiveServer

from users.iam.gateway import IamGateway
from users.roles import OPERATORS

# Playwright's sync API runs an event loop in this thread; Django's ORM refuses to run
# next to one unless told that this is a test-only, single-threaded use.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "browser-test-password-1"

# Flags the machine needs: no sandbox as root, and no background traffic to Google hosts,
# which this closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium).")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def screenshot(page: Page, request: pytest.FixtureRequest):
    """Save a screenshot of the page under test-artifacts/, named after the test and a label."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(label: str) -> Path:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{request.node.name}-{label}")
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def console(live_server: LiveServer, iam_server: str, settings) -> str:
    """The live console pointed at the (freshly reset) moto server; returns its base URL."""
    settings.IAM_BACKEND = "endpoint"
    settings.IAM_ENDPOINT_URL = iam_server
    return live_server.url


@pytest.fixture
def live_operator(django_user_model):
    operator = django_user_model.objects.create_user(username="alice", password=PASSWORD)
    operator.groups.add(Group.objects.get(name=OPERATORS))
    return operator


@pytest.fixture
def server_gateway(iam_server: str, settings) -> IamGateway:
    """A gateway on the same moto server the console uses, to arrange and check IAM state."""
    settings.IAM_ENDPOINT_URL = iam_server
    return IamGateway.from_settings()


def sign_in(page: Page, base_url: str, username: str = "alice", password: str = PASSWORD) -> None:
    page.goto(f"{base_url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
