"""The absolute session lifetime: a session ends SESSION_ABSOLUTE_SECONDS after sign-in.

The idle limit is Django's own (SESSION_COOKIE_AGE, renewed by SESSION_SAVE_EVERY_REQUEST);
it slides with every request, so this caps it. The sign-in time is stamped in the session
when the operator signs in (users/apps.py connects `stamp_sign_in` to `user_logged_in`); a
signed-in session without it ends too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse

SIGNED_IN_AT = "signed_in_at"


def stamp_sign_in(sender: Any, request: HttpRequest, **kwargs: Any) -> None:
    """Keep the sign-in time (epoch seconds) in the session login() has just rotated."""
    request.session[SIGNED_IN_AT] = int(time.time())


class AbsoluteSessionLifetimeMiddleware:
    """Sign out a session SESSION_ABSOLUTE_SECONDS after its sign-in, and send it to sign in."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated and self._expired(request):
            logout(request)
            messages.info(request, "Your session has reached its time limit. Sign in again.")
            return redirect_to_login(request.get_full_path())
        return self.get_response(request)

    @staticmethod
    def _expired(request: HttpRequest) -> bool:
        signed_in_at = request.session.get(SIGNED_IN_AT)
        if not isinstance(signed_in_at, int):
            return True
        return time.time() - signed_in_at >= settings.SESSION_ABSOLUTE_SECONDS
