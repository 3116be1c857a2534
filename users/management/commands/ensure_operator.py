"""Create the first operator account when there is none, and print its password once."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from users.roles import OPERATORS


class Command(BaseCommand):
    help = "Create a first operator (an admin who can change IAM) if no account exists yet."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--username", default="admin")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        User = get_user_model()
        if User.objects.exists():
            self.stdout.write("Operator accounts already exist; sign in with yours.")
            return
        password = secrets.token_urlsafe(12)
        operator = User.objects.create_superuser(username=username, password=password, email="")
        operator.groups.add(Group.objects.get(name=OPERATORS))
        self.stdout.write(
            f"First operator created. Sign in with\n  user name: {username}\n  password:  {password}\n"
            "This password is shown only now: keep it, or change it after signing in (/admin/)."
        )
        if settings.OPERATOR_MFA == "required":
            self.stdout.write("MFA is required (OPERATOR_MFA): the first sign-in sets up an authenticator app.")
