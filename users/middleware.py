"""Turn IAM failures that escape a view into a clear page instead of a 500."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from users.iam.errors import AccessDenied, IamError, IamUnavailable

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
        else:
            status, title = 502, "IAM answered with an error"
        return render(request, "iam_error.html", {"title": title, "error": exception}, status=status)
