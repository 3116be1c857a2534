"""The console's two roles: viewers read IAM, operators also change it (unless IAM_READ_ONLY)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, Group, Permission, User

OPERATORS = "Operators"
VIEWERS = "Viewers"
CHANGE_IAM = "users.change_iam"


def ensure_roles(**kwargs: Any) -> None:
    """Create both groups and give operators the change_iam permission (idempotent)."""
    change_iam = Permission.objects.get(content_type__app_label="users", codename="change_iam")
    Group.objects.get_or_create(name=VIEWERS)
    operators, _ = Group.objects.get_or_create(name=OPERATORS)
    operators.permissions.add(change_iam)


def can_change_iam(user: User | AnonymousUser) -> bool:
    """Whether `user` may change IAM: an operator, and the console not read-only
    (IAM_READ_ONLY makes every operator a viewer for changes)."""
    return not settings.IAM_READ_ONLY and user.has_perm(CHANGE_IAM)
