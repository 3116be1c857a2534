"""The security headers of static files.

WhiteNoise answers a static file from its middleware, before the CSP and X-Frame-Options
middleware see the request, so it adds them itself (settings.WHITENOISE_ADD_HEADERS_FUNCTION).
SecurityMiddleware wraps WhiteNoise and adds HSTS, nosniff, Referrer-Policy and COOP.
"""

from __future__ import annotations

from wsgiref.headers import Headers

from csp.utils import build_policy
from django.conf import settings


def add_static_headers(headers: Headers, path: str, url: str) -> None:
    """Give a static file the pages' CSP and X-Frame-Options."""
    headers["Content-Security-Policy"] = build_policy()
    headers["X-Frame-Options"] = settings.X_FRAME_OPTIONS
