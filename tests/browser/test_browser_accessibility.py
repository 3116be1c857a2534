"""Accessibility in a real browser: axe-core (WCAG 2 A and AA) on every page of the console, through
the `page` fixture's check, and a self-test that the check sees a page broken on purpose."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from playwright.sync_api import Page, Route, expect

from users.user_details import SECTIONS

from .axe import AxeChecker, Violation
from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
INLINE_POLICY = (
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}'
)
PLANTED_URL = "http://planted.test/"
PLANTED_PAGE = """<!doctype html>
<html lang="en"><head><title>Planted</title></head>
<body><main><h1>Planted</h1><img id="planted" src="data:image/gif;base64,R0lGODlhAQABAAAAACw="></main></body></html>"""


def _checked(page: Page, axe: AxeChecker) -> None:
    """The page now shown was checked (a page left too early would not be)."""
    axe.finish_page(page)
    assert axe.checked[-1:] == [page.url]


def _visit(page: Page, axe: AxeChecker, url: str) -> None:
    page.goto(url)
    _checked(page, axe)


def test_every_page_of_the_console_meets_wcag_2_aa(
    page: Page, console: str, live_operator, server_gateway, axe: AxeChecker
) -> None:
    server_gateway.create_group("Developers")
    server_gateway.attach_group_policy("Developers", READ_ONLY)
    server_gateway.create_user("arthur")
    server_gateway.add_user_to_group("Developers", "arthur")
    server_gateway.attach_user_policy("arthur", READ_ONLY)
    server_gateway.put_user_policy("arthur", "list-buckets", INLINE_POLICY)
    server_gateway.tag_user("arthur", {"team": "heart-of-gold"})
    server_gateway.create_access_key("arthur")
    _visit(page, axe, f"{console}/users/")  # the sign-in page
    sign_in(page, console)

    pages = [
        "/users/",
        *(f"/users/details/arthur/?section={section}" for section in SECTIONS),
        "/groups/",
        "/groups/Developers/",
        "/policies/",
        f"/policies/details/?arn={quote(READ_ONLY)}",
        "/account/",
        "/import/",
        "/jobs/",
        "/audit/",
        "/users/details/nobody/",
    ]
    for path in pages:
        _visit(page, axe, f"{console}{path}")
    assert axe.violations == [], axe.report()


def test_the_add_user_wizard_and_its_job_meet_wcag_2_aa(
    page: Page, console: str, live_operator, server_gateway, celery_worker, axe: AxeChecker
) -> None:
    server_gateway.create_group("Developers")
    sign_in(page, console)
    page.goto(f"{console}/users/create/")
    _checked(page, axe)
    page.get_by_label("User name*").fill("arthur")
    page.get_by_label("Programmatic access").check()
    page.get_by_test_id("wizard-next").click()
    for heading in ("Set permissions", "Add tags (optional)", "Review"):
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
        _checked(page, axe)
        if heading != "Review":
            page.get_by_test_id("wizard-next").click()
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_text("You successfully created the users shown below.")).to_be_visible(timeout=30_000)
    _checked(page, axe)
    job_url = page.url.removesuffix("credentials/")

    _visit(page, axe, f"{console}/jobs/")
    _visit(page, axe, job_url)
    assert axe.violations == [], axe.report()


def test_the_check_catches_a_planted_violation_under_a_strict_csp(page: Page, axe: AxeChecker) -> None:
    def serve(route: Route) -> None:
        route.fulfill(
            content_type="text/html",
            headers={"Content-Security-Policy": "default-src 'self'; object-src 'none'; base-uri 'none'"},
            body=PLANTED_PAGE,
        )

    page.route(PLANTED_URL, serve)
    _visit(page, axe, PLANTED_URL)
    message = axe.report()
    # The page is broken on purpose: its violation is taken out, so the fixture's own check passes.
    assert axe.take(PLANTED_URL) == [Violation(PLANTED_URL, "image-alt", ("#planted",))]
    assert f"{PLANTED_URL}: image-alt at #planted" in message
    assert axe.violations == []
