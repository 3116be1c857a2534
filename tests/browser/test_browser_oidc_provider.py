"""The test OpenID Connect provider's sign-in page in a real browser: what the console's OIDC
browser tests go through (tests/oidc_provider/), with the `page` fixture's axe-core check."""

from __future__ import annotations

import urllib.parse

import pytest
from playwright.sync_api import Page, expect

from tests.oidc_provider.fixtures import OidcProvider

from .axe import AxeChecker

pytestmark = pytest.mark.browser

CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"  # S256 of RFC 7636's example verifier


def _checked(page: Page, axe: AxeChecker) -> None:
    """axe-core has checked the page now shown (its violations fail the test at teardown)."""
    axe.finish_page(page)
    assert axe.checked[-1:] == [page.url]


def test_the_test_idp_signs_a_user_in_through_an_accessible_page(
    page: Page, axe: AxeChecker, oidc_provider: OidcProvider
) -> None:
    oidc_provider.add_user("carol", email="carol@example.com", groups=["iam-operators"])
    params = {
        "client_id": oidc_provider.client_id,
        "redirect_uri": f"{oidc_provider.issuer}/_test/callback",
        "response_type": "code",
        "scope": "openid email",
        "state": "s-1",
        "nonce": "n-1",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
    }
    page.goto(f"{oidc_provider.issuer}/authorize?{urllib.parse.urlencode(params)}")
    expect(page.get_by_role("heading", name="Sign in to Test IdP")).to_be_visible()
    _checked(page, axe)
    page.get_by_label("Username").fill("mallory")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("No user “mallory” at this identity provider.")
    _checked(page, axe)
    page.get_by_label("Username").fill("carol")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Callback received")).to_be_visible()
    back = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(page.url).query))
    assert back["state"] == "s-1"
    assert len(back["code"]) > 20
    _checked(page, axe)
