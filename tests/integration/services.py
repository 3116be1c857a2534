"""What the integration tests need of the machine. A missing service skips a test on a
developer's machine and fails it under CI (CI=true), where it must never hide a test."""

from __future__ import annotations

import os
from typing import Any

import pytest


def required(message: str) -> None:
    """A missing service: skipped on a developer's machine, a failure under CI."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def require_postgres(settings: Any) -> None:
    """A worker subprocess shares the test database: it must be PostgreSQL."""
    if "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
        required("needs PostgreSQL (DATABASE_URL=postgresql://…): a worker subprocess cannot share SQLite in memory")
