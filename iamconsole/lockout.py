"""Sign-in lockout with two thresholds, as django-axes' handler (settings.AXES_HANDLER).

Axes compares one failure limit with the largest failure count of its lockout parameters, so it
cannot lock a (user name, address) pair after 5 failures and the user name alone after 50. This
handler keeps axes' pair lockout (AXES_LOCKOUT_PARAMETERS, AXES_FAILURE_LIMIT, AXES_COOLOFF_TIME)
and adds the user-name threshold: AXES_USERNAME_FAILURE_LIMIT failures of that name, from any
address, within AXES_USERNAME_FAILURE_WINDOW, counted in axes' failure log. Attempts refused
while locked are not password checks and are not logged (with
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT off), so one address adds at most
AXES_FAILURE_LIMIT failures per cool-off to the user name's count: it cannot lock the operator
out from everywhere, and a distributed attack gets at most AXES_USERNAME_FAILURE_LIMIT guesses
per window.

Behind a proxy every request comes from the proxy's address, which would make the pair lockout
lock the user name for everyone: `client_address` (AXES_CLIENT_IP_CALLABLE) takes the address
the internet-facing one of TRUSTED_PROXY_COUNT proxies saw, from X-Forwarded-For; an IPv6
address counts as its /64.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessFailureLog
from axes.signals import user_locked_out
from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

log = logging.getLogger(__name__)


class ConsoleLockoutHandler(AxesDatabaseHandler):  # type: ignore[misc]  # axes has no type information
    def is_locked(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> bool:
        return bool(super().is_locked(request, credentials)) or self.user_name_exhausted(request, credentials)

    def user_login_failed(
        self, sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
    ) -> None:
        super().user_login_failed(sender, credentials, request, **kwargs)
        if request is None or getattr(request, "axes_locked_out", False):
            return
        if self.user_name_exhausted(request, credentials):
            username = get_client_username(request, credentials)
            # Never the user name itself: people type their password there by mistake.
            log.warning("Sign-in locked for a user name from every address after repeated failures")
            request.axes_locked_out = True  # type: ignore[attr-defined]
            request.axes_credentials = credentials  # type: ignore[attr-defined]
            user_locked_out.send("axes", request=request, username=username, ip_address=request.axes_ip_address)  # type: ignore[attr-defined]

    def user_name_exhausted(self, request: HttpRequest, credentials: dict[str, Any] | None) -> bool:
        """Whether the user name has had its failures for the window, from all addresses together."""
        username = get_client_username(request, credentials)
        if not username:
            return False
        since = timezone.now() - settings.AXES_USERNAME_FAILURE_WINDOW
        failures = AccessFailureLog.objects.filter(username=username, attempt_time__gte=since).count()
        return bool(failures >= settings.AXES_USERNAME_FAILURE_LIMIT)


def client_address(request: HttpRequest) -> str | None:
    """The sign-in's address: REMOTE_ADDR, or behind TRUSTED_PROXY_COUNT proxies (each appending
    the address it saw to X-Forwarded-For) the entry the internet-facing one appended. Entries
    left of it come from the client and are never trusted."""
    remote: str | None = request.META.get("REMOTE_ADDR")
    count = settings.TRUSTED_PROXY_COUNT
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if count <= 0 or len(hops) < count:
        return _subscriber(remote)
    try:
        ipaddress.ip_address(hops[-count])
    except ValueError:
        return _subscriber(remote)
    return _subscriber(hops[-count])


def _subscriber(address: str | None) -> str | None:
    """An IPv6 address as its /64, which one subscriber holds whole: otherwise a single visitor
    could rotate through addresses to lock a user name everywhere."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False).network_address)
    return str(ip)
