"""The console's error pages (handler400/403/404/500 and the CSRF failure view): each in the
console's frame, with a plain sentence and never an exception's internals.

An error page may be the answer to what is failing (the database, Redis, IAM), so its frame is
built from what still answers: the operator when the session can be read, the account only as
cached, never an IAM call. A server error is logged with its traceback under a short incident
id, which the page shows; a database or Redis outage is a 503 saying which one.
"""

from __future__ import annotations

import logging
import re
import secrets
import sys
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.template.loader import render_to_string

from iamconsole import cache_outage
from users.context_processors import backend_label
from users.iam.gateway import IamGateway
from users.operator_auth import mfa as operator_mfa
from users.roles import CHANGE_IAM, can_change_iam

log = logging.getLogger("django.request")

# get_object_or_404's message: "No Job matches the given query."
_NO_MATCH = re.compile(r"No (?P<model>\w+) matches the given query\.")
_NOUNS = {"Job": "job", "UserImport": "import", "User": "operator"}
NOT_FOUND = "This page does not exist. Check the address, or start again from the users list."
BAD_REQUEST = "The console could not read this request. Go back, reload the page and try again."


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler400: a request Django refused (SuspiciousOperation, BadRequest)."""
    return _render(request, "400.html", {"message": BAD_REQUEST}, status=400)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _render(request, "403.html", {}, status=403)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: most often a form left open past its session, or signed out elsewhere."""
    return _render(request, "403.html", {"csrf_failure": True}, status=403)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _render(request, "404.html", {"message": not_found_sentence(exception)}, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: logged with the traceback and an incident id, here rather than by Django's
    handler, so that the log line and the page name the same incident."""
    error = sys.exc_info()[1]
    outage = _outage(error)
    status = 503 if outage else 500
    incident = secrets.token_hex(4)
    log.error(
        "%s: %s (incident %s)",
        "Service Unavailable" if outage else "Internal Server Error",
        request.path,
        incident,
        exc_info=error is not None,
        extra={"status_code": status, "request": request},
    )
    context = {"incident": incident, "outage": outage}
    response = _render(request, "503.html" if outage else "500.html", context, status=status)
    response._has_been_logged = True  # type: ignore[attr-defined]  # Django's own log_response skips it
    return response


def not_found_sentence(exception: Exception) -> str:
    """What a 404 says: the console's own `Http404` message, a plain sentence for
    get_object_or_404's, and never a resolver's internals."""
    message = exception.args[0] if type(exception) is Http404 and exception.args else None
    if not isinstance(message, str) or not message:
        return NOT_FOUND
    if match := _NO_MATCH.fullmatch(message):
        return f"This {_NOUNS.get(match['model'], 'item')} does not exist or was removed."
    return message if message.endswith(".") else f"{message}."


def _outage(error: BaseException | None) -> str | None:
    """What the 503 page says when `error` is a service not answering; None for a bug."""
    if isinstance(error, OperationalError | InterfaceError):
        return "The console's database is not answering."
    if isinstance(error, cache_outage.UNAVAILABLE):
        return "Redis, the console's cache and job queue, is not answering."
    return None


def _render(request: HttpRequest, template: str, context: dict[str, Any], *, status: int) -> HttpResponse:
    body = render_to_string(template, {**_frame(request), **context})
    return HttpResponse(body, status=status)


def _frame(request: HttpRequest) -> dict[str, Any]:
    """base.html's context without the context processors, which read the database and IAM."""
    account = IamGateway.account_info_if_cached()
    return {
        "request": request,
        "csrf_token": get_token(request),
        "iam_read_only": settings.IAM_READ_ONLY,
        "account": account,
        "account_unknown": account is None,  # not read here: no "unreachable" badge
        "backend_kind": settings.IAM_BACKEND,
        "backend_label": backend_label(),
        "cache_unavailable": cache_outage.in_outage(),
        **_operator(request),
    }


def _operator(request: HttpRequest) -> dict[str, Any]:
    """Who is signed in, when the database answers; otherwise the frame keeps its navigation
    and leaves the operator out."""
    user = getattr(request, "user", None)
    if user is None:
        return {"user": AnonymousUser()}
    try:
        if not user.is_authenticated:
            return {"user": user}
        if operator_mfa.pending_step(request) is not None:
            return {"user": user, "mfa_pending": True}
        return {"user": user, "can_change_iam": can_change_iam(user), "is_operator": user.has_perm(CHANGE_IAM)}
    except DatabaseError:
        return {"user": AnonymousUser(), "operator_unknown": True}
