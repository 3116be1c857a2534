"""What every page's frame shows: the account, the backend, the operator's role, read-only mode."""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.http import HttpRequest

from users.drift.visits import Badge as DriftBadge
from users.iam.errors import IamError
from users.iam.gateway import IamGateway
from users.operator_auth import mfa as operator_mfa
from users.roles import CHANGE_IAM, can_change_iam


def backend_label() -> str:
    if settings.IAM_BACKEND == "embedded":
        return "Embedded moto"
    if settings.IAM_BACKEND == "endpoint":
        return cast(str, settings.IAM_ENDPOINT_URL)  # settings.py reads it for this backend
    return "AWS account"


def console(request: HttpRequest) -> dict[str, Any]:
    read_only = {"iam_read_only": settings.IAM_READ_ONLY}  # its banner is on every page
    if not request.user.is_authenticated:
        return read_only
    if operator_mfa.pending_step(request) is not None:
        # A password-only session sees the OTP step and nothing of the account.
        return {**read_only, "mfa_pending": True}
    try:
        account = IamGateway.from_settings(operator=request.user).cached_account_info()
    except IamError:
        account = None
    return {
        **read_only,
        "account": account,
        "backend_kind": settings.IAM_BACKEND,
        "backend_label": backend_label(),
        "can_change_iam": can_change_iam(request.user),
        "is_operator": request.user.has_perm(CHANGE_IAM),
        "drift_badge": DriftBadge(request.user),  # counted only where the navigation shows it
    }
