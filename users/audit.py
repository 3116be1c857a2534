"""The audit trail: one function that records an IAM change."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User

from users.models import AuditEvent


def record(
    *,
    operator: User | None,
    action: str,
    target: str,
    parameters: dict[str, Any],
    outcome: str,
    error_code: str = "",
    error_message: str = "",
    request_id: str = "",
) -> AuditEvent:
    """Store one audit row. The caller removes secrets from `parameters` first."""
    if operator is not None and not operator.is_authenticated:
        operator = None
    return AuditEvent.objects.create(
        operator=operator,
        action=action,
        target=target[:512],
        parameters=parameters,
        outcome=outcome,
        error_code=error_code[:128],
        error_message=error_message,
        request_id=request_id[:128],
    )
