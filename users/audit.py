"""The audit trail: `record` writes one row; the receivers here record sign-ins, sign-outs,
failed sign-ins and lockouts (connected by users/apps.py), and `record_refusal` a 403."""

from __future__ import annotations

from typing import Any

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

# Django's longest user name: a typed one is cut there (it may be anything, even a password).
_USER_NAME_MAX = 150


def record(
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
    """Store one audit row, naming the operator by user name. The caller removes secrets
    from `parameters` first."""
    name = operator.get_username() if operator is not None and operator.is_authenticated else ""
    return AuditEvent.objects.create(
        operator_name=name,
        action=action,
        target=target[:512],
        parameters=parameters,
        outcome=outcome,
        error_code=error_code[:128],
        error_message=error_message,
        request_id=request_id[:128],
    )


def _client(request: HttpRequest | None) -> dict[str, Any]:
    """The client's address as the lockout counts it (the proxy-aware one, iamconsole/lockout.py)."""
    return {"ip": client_address(request) or ""} if request is not None else {}


def on_signed_in(sender: Any, request: HttpRequest | None, user: AbstractBaseUser, **kwargs: Any) -> None:
    """user_logged_in."""
    record(
        operator=user,
        action=SIGN_IN,
        target=user.get_username(),
        parameters=_client(request),
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
