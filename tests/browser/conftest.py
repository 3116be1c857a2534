"""Browser fixtures: Playwright driving Debian's Chromium against pytest-django's live_server,
with IAM served by the embedded moto server (reset before each test)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from importlib import import_module
from pathlib import Path
from typing import cast

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.sessions.backends.base import SessionBase
from playwright.sync_api import Browser, Page, sync_playwright
from pytest_django.live_server_helper import LiveServer

from users.iam.gateway import IamGateway
from users.roles import OPERATORS

from .axe import AxeChecker, Tally

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
AXE_TALLY = pytest.StashKey[Tally]()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium).")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def axe() -> AxeChecker:
    """The accessibility check of the `page` fixture's browser context (see axe.py)."""
    return AxeChecker()


@pytest.fixture
def page(browser: Browser, axe: AxeChecker, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A page in a fresh browser context; the test fails if a page it loaded breaks a WCAG 2 A or AA rule."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    axe.attach(context)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    axe.finish(context)
    context.close()
    tally = request.config.stash.setdefault(AXE_TALLY, Tally())
    tally.started += len(axe.started)
    tally.checked += len(axe.checked)
    if axe.violations:
        pytest.fail(axe.report(), pytrace=False)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    tally = config.stash.get(AXE_TALLY, None)
    if tally is not None:
        terminalreporter.write_line(
            f"axe-core checked {tally.checked} of the {tally.started} pages the browser tests loaded "
            "(the others were left before their check completed)."
        )


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
def docs_screenshot(page: Page):
    """Save the visible page (or the whole page) as $SCREENSHOTS_DIR/<name>.png: the README's
    pictures, made by scripts/screenshots. Without SCREENSHOTS_DIR, do nothing."""
    directory = os.environ.get("SCREENSHOTS_DIR")

    def take(name: str, *, full_page: bool = False) -> None:
        if directory:
            Path(directory).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(directory) / f"{name}.png"), full_page=full_page)

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


def browser_session(page: Page) -> SessionBase:
    """The signed-in browser's server-side session (jobs and re-checks are bound to it)."""
    key = next(c["value"] for c in page.context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME)
    return cast(SessionBase, import_module(settings.SESSION_ENGINE).SessionStore(session_key=key))
