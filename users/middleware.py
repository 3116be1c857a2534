"""Turn IAM failures that escape a view into a clear page instead of a 500; audit every 403."""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from users import audit
from users.iam.errors import AccessDenied, IamError, IamUnavailable, ReadOnlyConsole
from users.operator_auth import mfa as operator_mfa

log = logging.getLogger(__name__)


class IamUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, IamError):
            return None
        log.warning("IAM error on %s: %s %s", request.path, exception.code, exception.request_id)
        if isinstance(exception, IamUnavailable):
            status, title = 503, "The IAM backend cannot be reached"
        elif isinstance(exception, AccessDenied):
            status, title = 403, "The console's AWS credentials are not allowed to do this"
        elif isinstance(exception, ReadOnlyConsole):
            status, title = 403, "This console is read-only"
        else:
            status, title = 502, "IAM answered with an error"
        return render(request, "iam_error.html", {"title": title, "error": exception}, status=status)


class RefusalAuditMiddleware:
    """One audit row for every 403 answer: a permission refused (`changes_iam`,
    permission_required), a CSRF failure, IAM's AccessDenied. It sits outside
    CsrfViewMiddleware, so that it sees the CSRF failure view's answer too."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # A refused identity-provider sign-in has its own row (users/views/sign_in.py).
        if response.status_code == 403 and not getattr(response, "refusal_audited", False):
            audit.record_refusal(request)
        return response


class OperatorMfaMiddleware:
    """Send a password-only session to the OTP step (verify, or enrol when MFA is required):
    it may reach only that step, sign-out and static files. Goes after OTPMiddleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        step = operator_mfa.pending_step(request)
        if step is None or self._allowed(request.path):
            return self.get_response(request)
        url = reverse("users:mfa_verify" if step == "verify" else "users:mfa_enrol")
        if request.method == "GET":
            url += "?" + urlencode({"next": request.get_full_path()})
        return redirect(url)

    @staticmethod
    def _allowed(path: str) -> bool:
        steps = {reverse("users:mfa_verify"), reverse("users:mfa_enrol"), reverse("logout")}
        return path in steps or path.startswith("/" + settings.STATIC_URL.lstrip("/"))
