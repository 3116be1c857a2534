"""Signing in with OpenID Connect in a real browser, through the tests' own provider
(tests/oidc_provider/): an operator, a viewer, a user in no mapped group, and answers that were
tampered with, each ending on a clear page of the console, never a 500."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from playwright.sync_api import Page, Response, expect

from tests.oidc_provider.fixtures import OPERATOR_GROUP, VIEWER_GROUP
from users.models import AuditEvent, OperatorIdentity
from users.oidc.recheck import CONFIRMED_AT

from .conftest import browser_session

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def idp(oidc_console, console):
    return oidc_console


def _sign_in_at_idp(page: Page, console: str, username: str) -> list[Response]:
    """From the console's sign-in page through the provider's; the console's callback answers."""
    callbacks: list[Response] = []
    page.on("response", lambda r: callbacks.append(r) if "/oidc/callback/" in r.url else None)
    page.goto(f"{console}/login/")
    page.get_by_role("link", name="Sign in with Test IdP").click()
    expect(page.get_by_role("heading", name="Sign in to Test IdP")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    return callbacks


def test_an_operator_signs_in_through_the_identity_provider(page: Page, console: str, idp, docs_screenshot) -> None:
    sub = idp.add_user("carol", groups=[OPERATOR_GROUP])
    page.goto(f"{console}/login/")
    expect(page.get_by_role("link", name="Sign in with Test IdP")).to_be_visible()
    expect(page.get_by_label("Password")).to_be_visible()  # the local form stays, for break-glass use
    docs_screenshot("oidc-sign-in")

    _sign_in_at_idp(page, console, "carol")

    expect(page.get_by_role("heading", name="IAM users (0)")).to_be_visible()
    expect(page.get_by_role("link", name="Add users")).to_be_visible()
    page.get_by_role("link", name="Add users").click()
    expect(page).to_have_url(f"{console}/users/create/")
    assert OperatorIdentity.objects.get(subject=sub).user.username == "carol"
    assert AuditEvent.objects.filter(action="OidcSignIn", operator_name="carol").exists()


def test_a_viewer_signs_in_and_cannot_add_users(page: Page, console: str, idp) -> None:
    idp.add_user("dave", groups=[VIEWER_GROUP])

    _sign_in_at_idp(page, console, "dave")

    expect(page.get_by_role("heading", name="IAM users (0)")).to_be_visible()
    expect(page.get_by_role("link", name="Add users")).to_have_count(0)


def test_a_user_in_no_mapped_group_is_refused(page: Page, console: str, idp, docs_screenshot) -> None:
    idp.add_user("mallory", groups=["finance"])

    callbacks = _sign_in_at_idp(page, console, "mallory")

    expect(page.get_by_text("Your account at Test IdP is not in a group that may use this console.")).to_be_visible()
    assert [r.status for r in callbacks] == [403]
    docs_screenshot("oidc-refused")
    page.get_by_role("link", name="Try again").click()
    expect(page.get_by_role("heading", name="Sign in to IAM Console")).to_be_visible()
    assert AuditEvent.objects.get(action="OidcSignInRefused").error_code == "no_group"


@pytest.mark.parametrize(
    ("fault", "sentence"),
    [
        ({"state": "tampered"}, "does not match one started in this browser"),
        ({"nonce": "wrong"}, "its nonce does not match"),
        ({"expired": True}, "The token from Test IdP has expired."),
        ({"issuer": "http://127.0.0.1:1/other"}, "The token was not issued by Test IdP"),
        ({"bad_signature": True}, "signature does not verify"),
    ],
)
def test_a_tampered_answer_ends_on_a_clear_page(page: Page, console: str, idp, fault, sentence) -> None:
    idp.add_user("carol", groups=[OPERATOR_GROUP])
    idp.fault(**fault)

    callbacks = _sign_in_at_idp(page, console, "carol")

    expect(page.get_by_test_id("oidc-failure")).to_contain_text(sentence)
    expect(page.get_by_role("link", name="Try again")).to_be_visible()
    assert [r.status for r in callbacks] == [400]
    # Not signed in: the console sends the users list back to sign in.
    page.goto(f"{console}/users/")
    expect(page.get_by_role("heading", name="Sign in to IAM Console")).to_be_visible()


def test_cancelling_at_the_identity_provider_ends_on_a_clear_page(page: Page, console: str, idp) -> None:
    idp.add_user("carol", groups=[OPERATOR_GROUP])
    page.goto(f"{console}/login/")
    page.get_by_role("link", name="Sign in with Test IdP").click()
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_test_id("oidc-failure")).to_contain_text("Test IdP did not sign you in")


def test_the_local_form_can_be_turned_off(page: Page, console: str, idp, settings) -> None:
    settings.LOCAL_SIGN_IN = False
    page.goto(f"{console}/login/")
    expect(page.get_by_role("link", name="Sign in with Test IdP")).to_be_visible()
    expect(page.get_by_label("Password")).to_have_count(0)


def _make_due(page: Page) -> None:
    """The IdP last confirmed the browser's session OIDC_RECHECK_SECONDS ago: its re-check is due."""
    session = browser_session(page)
    session[CONFIRMED_AT] = int(time.time()) - settings.OIDC_RECHECK_SECONDS
    session.save()


def test_a_due_session_is_confirmed_at_the_idp_silently_until_the_user_is_disabled(
    page: Page, console: str, idp
) -> None:
    idp.add_user("carol", groups=[OPERATOR_GROUP])
    _sign_in_at_idp(page, console, "carol")
    expect(page.get_by_role("heading", name="IAM users (0)")).to_be_visible()
    silent: list[str] = []
    page.on("request", lambda r: silent.append(r.url) if "prompt=none" in r.url and "/authorize" in r.url else None)
    _make_due(page)

    page.goto(f"{console}/audit/")

    expect(page.get_by_role("heading", name="Audit trail")).to_be_visible()  # the page asked for
    expect(page).to_have_url(f"{console}/audit/")
    assert len(silent) == 1 and silent[0].startswith(idp.issuer)

    idp.disable("carol")
    _make_due(page)
    page.goto(f"{console}/audit/")

    expect(page.get_by_role("heading", name="Sign in to IAM Console")).to_be_visible()
    expect(page.get_by_text("Test IdP no longer confirms your sign-in, so you were signed out.")).to_be_visible()
    assert len(silent) == 2
    assert AuditEvent.objects.get(action="OidcSignInRefused").error_code == "recheck_failed"
