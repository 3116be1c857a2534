from __future__ import annotations

import uuid

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


class Job(models.Model):
    """A batch of users to create: one pass of the Add-user wizard or one bulk import.

    The database, not the broker, is the truth about progress: each item holds its own
    state and step log; Celery messages carry item ids only.
    """

    class Source(models.TextChoices):
        WIZARD = "wizard", "Add user wizard"
        IMPORT = "import", "Import users"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    operator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=16, choices=Source.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # Account context at creation time, for the credentials CSV and the sign-in email.
    account_id = models.CharField(max_length=12, blank=True)
    sign_in_url = models.URLField(max_length=300, blank=True)
    # When the operator pressed Close on the credentials page (secrets then deleted).
    credentials_closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.id} ({self.created_at:%Y-%m-%d %H:%M})"


class JobItem(models.Model):
    """One user of a job: its plan (no secrets), its state and what each IAM step did."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField()
    user_name = models.CharField(max_length=64)
    plan = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    # [{"step": "CreateUser", "status": "started|done|failed", "at": iso, "error_code": …,
    #   "error_message": …, "request_id": …}], in order; a retried step appends.
    steps = models.JSONField(default=list, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # What the operator may retrieve (the secrets themselves are in the one-time store).
    access_key_id = models.CharField(max_length=128, blank=True)
    has_password = models.BooleanField(default=False)
    error_code = models.CharField(max_length=128, blank=True)
    error_message = models.TextField(blank=True)

    class Meta:
        ordering = ["job", "position"]
        constraints = [models.UniqueConstraint(fields=["job", "user_name"], name="one_item_per_user_per_job")]

    def __str__(self) -> str:
        return f"{self.user_name} ({self.status})"
