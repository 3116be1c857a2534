"""Session lifetimes: idle SESSION_COOKIE_AGE, absolute SESSION_ABSOLUTE_SECONDS after sign-in.

The idle limit is Django's own expiry (SESSION_COOKIE_AGE), renewed when the session is saved.
Rather than a database write on every request (SESSION_SAVE_EVERY_REQUEST), a signed-in
session is saved when its last renewal is SESSION_TOUCH_SECONDS old: the idle limit is then
exact to within that much, and a page costs no write. The absolute limit caps the sliding one.
The sign-in time is stamped in the session when the operator signs in (users/apps.py connects
`stamp_sign_in` to `user_logged_in`); a signed-in session without it ends too.
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
from django.utils import timezone

SIGNED_IN_AT = "signed_in_at"
TOUCHED_AT = "touched_at"  # epoch seconds of the last renewal of the idle expiry


def stamp_sign_in(sender: Any, request: HttpRequest, **kwargs: Any) -> None:
    """Keep the sign-in time (epoch seconds) in the session login() has just rotated."""
    request.session[SIGNED_IN_AT] = int(time.time())
    request.session[TOUCHED_AT] = int(timezone.now().timestamp())


class SessionLifetimeMiddleware:
    """Sign out a session SESSION_ABSOLUTE_SECONDS after its sign-in, and send it to sign in;
    renew a signed-in session's idle expiry once per SESSION_TOUCH_SECONDS."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated and self._expired(request):
            logout(request)
            messages.info(request, "Your session has reached its time limit. Sign in again.")
            return redirect_to_login(request.get_full_path())
        if request.user.is_authenticated:
            self._touch(request)
        return self.get_response(request)

    @staticmethod
    def _touch(request: HttpRequest) -> None:
        # Django's clock, as the session's expiry: tests move it.
        now = int(timezone.now().timestamp())
        touched_at = request.session.get(TOUCHED_AT)
        if not isinstance(touched_at, int) or now - touched_at >= settings.SESSION_TOUCH_SECONDS:
            request.session[TOUCHED_AT] = now  # modified: SessionMiddleware saves it, with a new expiry

    @staticmethod
    def _expired(request: HttpRequest) -> bool:
        signed_in_at = request.session.get(SIGNED_IN_AT)
        if not isinstance(signed_in_at, int):
            return True
        return time.time() - signed_in_at >= settings.SESSION_ABSOLUTE_SECONDS
