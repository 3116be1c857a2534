"""What every page's frame shows: the account, the backend, the operator's role."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from .gateway import AccountInfo, IamError, IamGateway
from .roles import CHANGE_IAM

ACCOUNT_CACHE_SECONDS = 300


def backend_label() -> str:
    if settings.IAM_BACKEND == "embedded":
        return "Embedded moto"
    if settings.IAM_BACKEND == "endpoint":
        return settings.IAM_ENDPOINT_URL
    return "AWS account"


def account_info(gateway: IamGateway) -> AccountInfo:
    """The account id, alias and sign-in URL, cached: they change rarely, pages are many."""
    key = f"account-info:{settings.IAM_ENDPOINT_URL}"
    info = cache.get(key)
    if info is None:
        info = gateway.account_info()
        cache.set(key, info, ACCOUNT_CACHE_SECONDS)
    return info


def console(request: HttpRequest) -> dict[str, Any]:
    if not request.user.is_authenticated:
        return {}
    try:
        account = account_info(IamGateway.from_settings(operator=request.user))
    except IamError:
        account = None
    return {
        "account": account,
        "backend_kind": settings.IAM_BACKEND,
        "backend_label": backend_label(),
        "can_change_iam": request.user.has_perm(CHANGE_IAM),
    }
