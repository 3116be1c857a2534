"""The audit trail: `record` writes one row, `AuditBuffer` keeps a job's rows to write them
together; the receivers here record sign-ins, sign-outs, failed sign-ins and lockouts
(connected by users/apps.py), and `record_refusal` a 403."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, ParamSpec

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.http import HttpRequest

from iamconsole.lockout import client_address
from users.models import AuditEvent

# The actions recorded besides IAM's own (CreateUser, …), as the audit page shows them.
SIGN_IN = "SignIn"
SIGN_OUT = "SignOut"
SIGN_IN_FAILED = "SignInFailed"
LOCKED_OUT = "LockedOut"
REFUSED = "Refused"
SESSION_ACTIONS = (SIGN_IN, SIGN_OUT, SIGN_IN_FAILED, LOCKED_OUT)

P = ParamSpec("P")

# Django's longest user name: a typed one is cut there (it may be anything, even a password).
_USER_NAME_MAX = 150


def event(
    *,
    operator: User | AbstractBaseUser | AnonymousUser | None,
    action: str,
    target: str,
    parameters: dict[str, Any],
    outcome: str,
    error_code: str = "",
    error_message: str = "",
    request_id: str = "",
) -> AuditEvent:
    """One audit row, not saved yet, stamped now and naming the operator by user name. The
    caller removes secrets from `parameters` first."""
    name = operator.get_username() if operator is not None and operator.is_authenticated else ""
    return AuditEvent(
        operator_name=name,
        action=action,
        target=target[:512],
        parameters=parameters,
        outcome=outcome,
        error_code=error_code[:128],
        error_message=error_message,
        request_id=request_id[:128],
    )


def _stored(build: Callable[P, AuditEvent]) -> Callable[P, AuditEvent]:
    @functools.wraps(build)
    def store(*args: P.args, **kwargs: P.kwargs) -> AuditEvent:
        row = build(*args, **kwargs)
        row.save()
        return row

    return store


# Store one audit row: `event`, saved.
record = _stored(event)


class AuditBuffer:
    """Audit rows kept in memory by the threads of a job chunk, and written in one INSERT by
    `flush`, which the chunk calls before it saves its items' outcomes: an item is never DONE
    without its rows. A worker killed in between loses the rows of the changes it made since
    the last flush (at most about a second's); the item's next run redoes those steps and
    writes their rows (a CreateUser redone shows as IAM's EntityAlreadyExists answer, which
    the run takes as its own user: users/provisioning.py)."""

    def __init__(self) -> None:
        self._rows: list[AuditEvent] = []
        self._lock = threading.Lock()

    def add(self, row: AuditEvent) -> None:
        with self._lock:
            self._rows.append(row)

    def flush(self) -> None:
        with self._lock:
            rows, self._rows = self._rows, []
        try:
            AuditEvent.objects.bulk_create(rows)
        except BaseException:
            with self._lock:
                self._rows[:0] = rows  # kept for the next flush
            raise


def _client(request: HttpRequest | None) -> dict[str, Any]:
    """The client's address as the lockout counts it (the proxy-aware one, iamconsole/lockout.py)."""
    return {"ip": client_address(request) or ""} if request is not None else {}


def on_signed_in(sender: Any, request: HttpRequest | None, user: AbstractBaseUser, **kwargs: Any) -> None:
    """user_logged_in. A sign-in at the identity provider (users/oidc/accounts.py) brings its own
    action and details (issuer, subject, role) on the user."""
    own: tuple[str, dict[str, Any]] = getattr(user, "sign_in_audit", (SIGN_IN, {}))
    action, details = own
    record(
        operator=user,
        action=action,
        target=user.get_username(),
        parameters={**_client(request), **details},
        outcome=AuditEvent.Outcome.SUCCESS,
    )


def on_signed_out(sender: Any, request: HttpRequest | None, user: AbstractBaseUser | None, **kwargs: Any) -> None:
    """user_logged_out; `user` is None when nobody was signed in."""
    if user is None:
        return
    record(
        operator=user,
        action=SIGN_OUT,
        target=user.get_username(),
        parameters=_client(request),
        outcome=AuditEvent.Outcome.SUCCESS,
    )


def on_sign_in_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """user_login_failed: the target is the user name typed, cut to 150 characters; nothing
    else of the credentials (the password above all) is kept."""
    typed = credentials.get("username")
    record(
        operator=None,
        action=SIGN_IN_FAILED,
        target=typed[:_USER_NAME_MAX] if isinstance(typed, str) else "",
        parameters=_client(request),
        outcome=AuditEvent.Outcome.FAILURE,
    )


def on_locked_out(sender: Any, request: HttpRequest | None, username: str | None, **kwargs: Any) -> None:
    """django-axes' user_locked_out: sent at the failure that locks the account, and again at
    each attempt while it stays locked."""
    record(
        operator=None,
        action=LOCKED_OUT,
        target=(username or "")[:_USER_NAME_MAX],
        parameters=_client(request),
        outcome=AuditEvent.Outcome.FAILURE,
    )


def record_refusal(request: HttpRequest) -> AuditEvent:
    """A request answered 403 (no permission, CSRF failure, IAM's AccessDenied): who, and
    the method and path, never the query string or the body."""
    return record(
        operator=getattr(request, "user", None),
        action=REFUSED,
        target=request.path,
        parameters={"method": request.method, **_client(request)},
        outcome=AuditEvent.Outcome.FAILURE,
        error_code="Forbidden",
    )
