"""The console's two roles: viewers read IAM, operators also change it."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, Permission

OPERATORS = "Operators"
VIEWERS = "Viewers"
CHANGE_IAM = "users.change_iam"


def ensure_roles(**kwargs: Any) -> None:
    """Create both groups and give operators the change_iam permission (idempotent)."""
    change_iam = Permission.objects.get(content_type__app_label="users", codename="change_iam")
    Group.objects.get_or_create(name=VIEWERS)
    operators, _ = Group.objects.get_or_create(name=OPERATORS)
    operators.permissions.add(change_iam)
