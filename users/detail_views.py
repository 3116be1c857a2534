"""The user details page: Summary and the Permissions, Groups, Tags and Security credentials
tabs (FEATURES.md §4B-4F). One tab is read per page, so a page costs at most 12 IAM calls."""

from __future__ import annotations

import json
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from . import user_details
from .gateway import IamGateway, NoSuchEntity
from .user_details import DEFAULT_SECTION, POLICY_TYPES, SECTIONS, PermissionRow, UserDetails
from .validators import is_valid_user_name


def _gateway(request: HttpRequest) -> IamGateway:
    return IamGateway.from_settings(operator=request.user)


def read_user(gateway: IamGateway, name: str) -> UserDetails:
    """The user's details, or 404 (a name IAM could not hold is not sent to IAM at all)."""
    if not is_valid_user_name(name):
        raise Http404(f"No IAM user named {name}")
    try:
        return user_details.read_details(gateway, name)
    except NoSuchEntity:
        raise Http404(f"No IAM user named {name}")


def user_detail(request: HttpRequest, name: str) -> HttpResponse:
    gateway = _gateway(request)
    details = read_user(gateway, name)
    section = request.GET.get("section", DEFAULT_SECTION)
    if section not in SECTIONS:
        section = DEFAULT_SECTION
    context: dict[str, Any] = {
        "details": details,
        "iam_user": details.user,
        "section": section,
        "sections": SECTIONS,
    }
    if section == "permissions":
        context.update(_permissions(request, gateway, details))
    elif section == "groups":
        context["group_rows"] = user_details.group_rows(gateway, details)
    elif section == "tags":
        context["tag_rows"] = user_details.tag_rows(details)
    else:
        context["credentials"] = user_details.security_credentials(gateway, details)
    return render(request, "users/detail.html", context)


def _permissions(request: HttpRequest, gateway: IamGateway, details: UserDetails) -> dict[str, Any]:
    """The Permissions tab: the rows (filtered by Type and a search), and the JSON of the one
    row the operator expanded (?show=<row key>; only a key of a listed row is read)."""
    rows = user_details.permission_rows(gateway, details)
    policy_type = request.GET.get("type", "")
    policy_type = policy_type if policy_type in POLICY_TYPES else ""
    query = request.GET.get("q", "").strip()[:128]
    shown = next((row for row in rows if row.key == request.GET.get("show")), None)
    return {
        "permission_rows": user_details.filter_rows(rows, policy_type=policy_type, query=query),
        "permission_count": len(rows),
        "policy_types": POLICY_TYPES,
        "policy_type": policy_type,
        "query": query,
        "shown": shown,
        "shown_document": _document(gateway, details, shown) if shown else None,
    }


def _document(gateway: IamGateway, details: UserDetails, row: PermissionRow) -> str:
    if row.arn:
        document = gateway.get_policy_document(row.arn)
    elif row.group:
        document = gateway.get_group_policy_document(row.group, row.name)
    else:
        document = gateway.get_user_policy_document(details.user.name, row.name)
    return json.dumps(document, indent=2)
