"""The identity provider: whether OIDC is on, its discovery document, and why a sign-in failed.

The endpoints are read from `<OIDC_ISSUER>/.well-known/openid-configuration` when first needed,
with a timeout, and kept for DISCOVERY_TTL seconds in this process; a document naming another
issuer is refused. mozilla-django-oidc reads its settings through `library_setting`, which
answers its names from the console's OIDC_* settings and the document.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests
from django.conf import settings
from mozilla_django_oidc.utils import import_from_settings

DISCOVERY_TTL = 3600
TIMEOUT = 10  # seconds for every call to the identity provider
# Seconds of clock difference allowed with the identity provider on exp, iat and nbf.
LEEWAY = 60
SIGNING_ALGORITHMS = ["RS256"]

# Why a sign-in failed: HTTP status, and what the page says ({idp}: OIDC_PROVIDER_NAME).
REASONS: dict[str, tuple[int, str]] = {
    "no_group": (403, "Your account at {idp} is not in a group that may use this console."),
    "email_domain": (403, "Your account at {idp} has an email address this console does not accept."),
    "inactive": (403, "Your console account is deactivated. Ask another operator to reactivate it."),
    "access_denied": (403, "{idp} did not sign you in: the sign-in was cancelled or refused there."),
    "idp_error": (400, "{idp} answered with an error instead of signing you in."),
    "state": (400, "This sign-in does not match one started in this browser: it expired, was used or was altered."),
    "nonce": (400, "The answer from {idp} was not made for this sign-in (its nonce does not match)."),
    "expired": (400, "The token from {idp} has expired. If this repeats, check the clocks of both servers."),
    "issuer": (400, "The token was not issued by {idp}, the identity provider this console trusts."),
    "audience": (400, "The token from {idp} was not issued to this console (its audience is another client)."),
    "signature": (400, "The token's signature does not verify with the keys {idp} publishes."),
    "invalid_token": (400, "The answer from {idp} is not a valid ID token."),
    "token_error": (400, "{idp} refused to complete this sign-in (the code exchange failed)."),
    "unreachable": (503, "{idp} cannot be reached right now."),
    "misconfigured": (503, "{idp}'s discovery document does not match this console's settings (OIDC_ISSUER)."),
}


class SignInFailed(Exception):
    """A sign-in at the identity provider that the console refuses; `details` go to the audit row."""

    def __init__(self, reason: str, *, username: str = "", details: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason if reason in REASONS else "invalid_token"
        self.username = username
        self.details = details or {}

    @property
    def status(self) -> int:
        return REASONS[self.reason][0]

    @property
    def message(self) -> str:
        return REASONS[self.reason][1].format(idp=settings.OIDC_PROVIDER_NAME)


@dataclass(frozen=True)
class Provider:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str = ""
    fetched_at: float = field(default=0.0, compare=False)


_documents: dict[str, Provider] = {}
_lock = threading.Lock()


def enabled() -> bool:
    """Whether operators may sign in at an identity provider (OIDC_ISSUER is set)."""
    return bool(settings.OIDC_ISSUER)


def local_sign_in() -> bool:
    """Whether the user-name-and-password form is offered and accepted: always when OIDC is off."""
    return bool(settings.LOCAL_SIGN_IN) or not enabled()


def forget() -> None:
    """Drop the kept discovery documents (the next sign-in reads them again)."""
    with _lock:
        _documents.clear()


def provider() -> Provider:
    """The configured issuer's endpoints, from its discovery document (kept DISCOVERY_TTL s).
    Raises SignInFailed("unreachable") when it cannot be read, ("misconfigured") when it is wrong."""
    issuer = settings.OIDC_ISSUER
    with _lock:
        kept = _documents.get(issuer)
    if kept is not None and time.monotonic() - kept.fetched_at < DISCOVERY_TTL:
        return kept
    found = _discover(issuer)
    with _lock:
        _documents[issuer] = found
    return found


def _discover(issuer: str) -> Provider:
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        response = requests.get(url, timeout=TIMEOUT)
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as error:
        raise SignInFailed("unreachable", details={"url": url, "error": type(error).__name__}) from error
    if not isinstance(document, dict):
        raise SignInFailed("misconfigured", details={"url": url})
    required = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
    values = {name: document.get(name) for name in required}
    missing = [name for name, value in values.items() if not isinstance(value, str) or not value]
    if missing:
        raise SignInFailed("misconfigured", details={"url": url, "missing": missing})
    found = {name: str(value) for name, value in values.items()}
    # OpenID Connect Discovery 1.0 §4.3: the document's issuer is the one asked for.
    if found["issuer"].rstrip("/") != issuer.rstrip("/"):
        raise SignInFailed("misconfigured", details={"url": url, "issuer": found["issuer"][:200]})
    userinfo = document.get("userinfo_endpoint")
    return Provider(
        issuer=found["issuer"],
        authorization_endpoint=found["authorization_endpoint"],
        token_endpoint=found["token_endpoint"],
        jwks_uri=found["jwks_uri"],
        userinfo_endpoint=userinfo if isinstance(userinfo, str) else "",
        fetched_at=time.monotonic(),
    )


def library_setting(name: str, *default: Any) -> Any:
    """mozilla-django-oidc's settings, from the console's: its views and backend read them here."""
    fixed: dict[str, Any] = {
        "OIDC_RP_CLIENT_ID": settings.OIDC_CLIENT_ID,
        "OIDC_RP_CLIENT_SECRET": settings.OIDC_CLIENT_SECRET,
        "OIDC_RP_SCOPES": settings.OIDC_SCOPES,
        "OIDC_RP_SIGN_ALGO": SIGNING_ALGORITHMS[0],
        "OIDC_USE_NONCE": True,
        "OIDC_USE_PKCE": True,
        "OIDC_PKCE_CODE_CHALLENGE_METHOD": "S256",
        "OIDC_TIMEOUT": TIMEOUT,
        "OIDC_VERIFY_SSL": True,
        "OIDC_STORE_ACCESS_TOKEN": False,
        "OIDC_STORE_ID_TOKEN": False,
        "OIDC_AUTHENTICATION_CALLBACK_URL": "oidc_authentication_callback",
        "OIDC_REDIRECT_FIELD_NAME": "next",
        "OIDC_AUTH_REQUEST_EXTRA_PARAMS": {},
    }
    if name in fixed:
        return fixed[name]
    endpoints = {
        "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
        "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
        "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
        "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
    }
    if name in endpoints:
        return getattr(provider(), endpoints[name])
    return import_from_settings(name, *default)
