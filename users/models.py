from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """One IAM change made through the console, successful or not.

    Written by the gateway for every mutating IAM call. Parameters are stored with
    secrets removed; rows are never edited or deleted by the application.
    """

    class Outcome(models.TextChoices):
        SUCCESS = "success", "Success"
        FAILURE = "failure", "Failure"

    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    action = models.CharField(max_length=64)
    target = models.CharField(max_length=512, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    error_code = models.CharField(max_length=128, blank=True)
    error_message = models.TextField(blank=True)
    request_id = models.CharField(max_length=128, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        # The one permission that separates operators (who change IAM) from viewers.
        permissions = [("change_iam", "Can change IAM users, groups and policies")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.action} {self.target} {self.outcome}"
