"""Sessions signed in at the identity provider are confirmed there again (issue 18).

OIDC_RECHECK_SECONDS after the IdP last confirmed a session (CONFIRMED_AT: at sign-in, then at
each re-check), the operator's next page load goes through the IdP with prompt=none (the start
view, users/views/sign_in.py): an IdP whose own session still holds answers at once, and the
callback keeps the console's session as it is and reads the role again; any other answer signs
the operator out (`sign_out`). A request that cannot be redirected (a form's POST, a script's
fetch) passes GRACE_SECONDS more, so that a form being filled is not lost, then is refused with
a 403 that changes nothing: reloading the page re-checks. An unreachable IdP answers the start
view's or the callback's 503 page and signs nobody out; the next page load tries again.

mozilla-django-oidc's SessionRefresh does the same for any session of its backend, with no grace
and another XHR answer; this one re-checks only sessions of users/oidc/backend.py, and binds each
re-check to its state (PENDING) so that only the callback of one started here keeps the session.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import BACKEND_SESSION_KEY, logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from iamconsole.lockout import client_address
from users import audit
from users.models import AuditEvent, OperatorIdentity
from users.oidc import provider as oidc
from users.oidc.accounts import OIDC_SIGN_IN_REFUSED
from users.oidc.backend import BACKEND_PATH
from users.operator_auth import mfa as operator_mfa

CONFIRMED_AT = "oidc_confirmed_at"  # epoch seconds of the IdP's last confirmation of the session
PENDING = "oidc_recheck_states"  # the states of the re-checks this session started
GRACE_SECONDS = 300
RECHECK_FAILED = "recheck_failed"
_MAX_PENDING = 10
_PROGRESS = re.compile(r"/progress/?$")  # the job pages' JSON, polled every second


def applies(request: HttpRequest) -> bool:
    """Whether this request's session is re-checked: signed in through the IdP, re-checks on."""
    return (
        settings.OIDC_RECHECK_SECONDS > 0
        and oidc.enabled()
        and request.user.is_authenticated
        and request.session.get(BACKEND_SESSION_KEY) == BACKEND_PATH
    )


def confirmed(request: HttpRequest) -> None:
    """The IdP has just confirmed this session (a sign-in or a re-check)."""
    request.session[CONFIRMED_AT] = int(time.time())


def expect(request: HttpRequest, state: str) -> None:
    """The start view sent this session to the IdP with prompt=none under `state`."""
    pending = [kept for kept in request.session.get(PENDING, []) if kept != state]
    request.session[PENDING] = [*pending, state][-_MAX_PENDING:]


def take(request: HttpRequest) -> bool:
    """Whether the callback answers a re-check this session started (its state, once)."""
    state = request.GET.get("state", "")
    pending = request.session.get(PENDING, [])
    if not state or state not in pending:
        return False
    request.session[PENDING] = [kept for kept in pending if kept != state]
    return applies(request)


def sign_out(
    request: HttpRequest,
    answer: str,
    *,
    failure: oidc.SignInFailed | None = None,
    details: dict[str, Any] | None = None,
) -> HttpResponse:
    """The IdP no longer confirms this session (`answer`: its error, or why the console refused
    its answer): audited, signed out, and sent to the sign-in page with a message saying so."""
    user = request.user
    details = failure.details if failure is not None else details
    identity = OperatorIdentity.objects.filter(user__username=user.get_username()).first()
    message = f"{settings.OIDC_PROVIDER_NAME} no longer confirms your sign-in, so you were signed out."
    if failure is not None and failure.status == 403:
        message += " " + failure.message
    audit.record(
        operator=user,
        action=OIDC_SIGN_IN_REFUSED,
        target=user.get_username(),
        parameters={
            "reason": RECHECK_FAILED,
            "answer": answer,
            "issuer": identity.issuer if identity is not None else "",
            "subject": identity.subject if identity is not None else "",
            "ip": client_address(request) or "",
            **({"idp": details} if details else {}),
        },
        outcome=AuditEvent.Outcome.FAILURE,
        error_code=RECHECK_FAILED,
        error_message=message,
    )
    next_url = request.session.get("oidc_login_next") or ""
    logout(request)
    messages.warning(request, message)
    return redirect_to_login(next_url or reverse(settings.LOGIN_REDIRECT_URL))


class OidcRecheckMiddleware:
    """Send a page load of a session the IdP confirmed OIDC_RECHECK_SECONDS ago through the IdP
    (prompt=none); refuse its other requests after GRACE_SECONDS more. Goes after
    SessionLifetimeMiddleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not applies(request) or _exempt(request):
            return self.get_response(request)
        stamp = request.session.get(CONFIRMED_AT)
        age = time.time() - stamp if isinstance(stamp, int) else float("inf")
        if age < settings.OIDC_RECHECK_SECONDS:
            return self.get_response(request)
        if request.method in ("GET", "HEAD") and _page_load(request):
            query = urlencode({"prompt": "none", "next": request.get_full_path()})
            return HttpResponseRedirect(f"{reverse('oidc_authentication_init')}?{query}")
        if age < settings.OIDC_RECHECK_SECONDS + GRACE_SECONDS:
            return self.get_response(request)
        return _refused(request)


def _exempt(request: HttpRequest) -> bool:
    """The OIDC flow's own URLs, sign-in and sign-out, static files, the health checks, and the
    console's OTP step while it is pending (OperatorMfaMiddleware sends the OIDC URLs back there)."""
    path = request.path
    names = ("oidc_authentication_init", "oidc_authentication_callback", "login", "logout")
    if path in {reverse(name) for name in names}:
        return True
    if path in {reverse("users:mfa_verify"), reverse("users:mfa_enrol")}:
        return operator_mfa.pending_step(request) is not None
    return path.startswith(("/" + settings.STATIC_URL.lstrip("/"), reverse("health")))


def _page_load(request: HttpRequest) -> bool:
    """A browser's page load, not a script's request (fetch, XHR, the progress polls)."""
    return (
        "text/html" in request.headers.get("Accept", "")
        and "X-Requested-With" not in request.headers
        and not _PROGRESS.search(request.path)
    )


def _refused(request: HttpRequest) -> HttpResponse:
    """The 403 of a request that cannot wait for a re-check. A script's poll (GET) is not audited:
    it repeats every second until the page is reloaded; a POST is (users/middleware.py)."""
    message = f"Your sign-in must be confirmed with {settings.OIDC_PROVIDER_NAME}: reload the page."
    response: HttpResponse
    if "text/html" in request.headers.get("Accept", ""):
        context: dict[str, Any] = {"message": message, "back_url": _back_url(request)}
        response = render(request, "registration/oidc_recheck_required.html", context, status=403)
    else:
        response = JsonResponse({"error": "recheck_required", "message": message}, status=403)
    if request.method in ("GET", "HEAD"):
        response.refusal_audited = True  # type: ignore[attr-defined]
    return response


def _back_url(request: HttpRequest) -> str:
    """The page to load again: the form's page (Referer, on this site) for a POST."""
    if request.method in ("GET", "HEAD"):
        return request.get_full_path()
    referer = request.headers.get("Referer", "")
    if url_has_allowed_host_and_scheme(referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return referer
    return reverse(settings.LOGIN_REDIRECT_URL)
