from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from django.conf import settings
from django.db import models
from django.utils import timezone

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    """Audit rows are written once: bulk update and delete are refused (RELIABILITY.md A7)."""

    def update(self, **kwargs: Any) -> int:
        raise ImmutableAuditEvent("audit events cannot be changed")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise ImmutableAuditEvent("audit events cannot be deleted")


class ImmutableAuditEvent(Exception):
    """Someone tried to change or delete an audit row."""


class AuditEvent(models.Model):
    """One recorded event: an IAM call made through the console (successful or not), a
    sign-in, sign-out, failed sign-in or lockout, a refused request, a secret retrieval.

    Rows are insert-only: the queryset's update() and delete(), save() on an existing row
    and delete() all raise. The operator is kept as a user name (text, not a foreign key), so
    deleting an operator changes no row. Parameters are stored with secrets removed.
    """

    class Outcome(models.TextChoices):
        SUCCESS = "success", "Success"
        FAILURE = "failure", "Failure"

    operator_name = models.CharField(max_length=150, blank=True)
    # When the call was made: set when the row is built, which for a job's rows saved together
    # (audit.AuditBuffer) is before it is written.
    at = models.DateTimeField(default=timezone.now, db_index=True)
    action = models.CharField(max_length=64)
    target = models.CharField(max_length=512, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    error_code = models.CharField(max_length=128, blank=True)
    error_message = models.TextField(blank=True)
    request_id = models.CharField(max_length=128, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        # The audit page's filters, each newest first.
        indexes = [
            models.Index(fields=["target", "at"], name="audit_target_at"),
            models.Index(fields=["operator_name", "at"], name="audit_operator_at"),
            models.Index(fields=["action", "at"], name="audit_action_at"),
            models.Index(fields=["outcome", "at"], name="audit_outcome_at"),
        ]
        # The one permission that separates operators (who change IAM) from viewers.
        permissions = [("change_iam", "Can change IAM users, groups and policies")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.action} {self.target} {self.outcome}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ImmutableAuditEvent("audit events cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ImmutableAuditEvent("audit events cannot be deleted")


# A job its operator has not been told has finished: still running, or finished since.
NOTICE_PENDING = (
    models.Q(finished_at__isnull=True)
    | models.Q(notified_finished_at__isnull=True)
    | models.Q(notified_finished_at__lt=models.F("finished_at"))
)


class Job(models.Model):
    """A batch of users to create: one pass of the Add-user wizard or one bulk import.

    The database, not the broker, is the truth about progress: each item holds its own
    state and step log; Celery messages carry item ids only.
    """

    class Source(models.TextChoices):
        WIZARD = "wizard", "Add user wizard"
        IMPORT = "import", "Import users"
        KEYS = "keys", "Deactivate access keys"

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
    # The `finished_at` its operator has been told of (the top bar's notice, or the job's own
    # page): a job retried and finished again is told of again.
    notified_finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        # The jobs a page's top bar may have to tell their operator of (users/jobs.py).
        indexes = [models.Index(fields=["operator"], condition=NOTICE_PENDING, name="job_notice_pending")]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.id} ({self.created_at:%Y-%m-%d %H:%M})"

    @property
    def heading(self) -> str:
        """The title of the job's pages: the page the operator started it from."""
        if self.source == self.Source.KEYS:
            return "Deactivate access keys"
        return "Import users" if self.source == self.Source.IMPORT else "Add user"


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
    # The run that holds a RUNNING item (job_items.claim_items): its outcome is saved only while
    # it still holds it.
    claim = models.UUIDField(null=True, blank=True, db_index=True)
    # The last run ended without saving the item's outcome (its worker died): a step it may have
    # started is not known to be unsent (job_items.ItemProgress.started_at).
    interrupted = models.BooleanField(default=False)
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

    @property
    def seconds(self) -> float | None:
        """From the first claim to the end, retries and their waits included."""
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class UserImport(models.Model):
    """An uploaded CSV of users and its dry run: every row validated, nothing written to IAM.

    Confirming it starts a `Job` with one item per row (users/imports.py); until then it is only
    a plan, shown to the operator who uploaded it.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    operator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    file_name = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    rows_total = models.PositiveIntegerField(default=0)
    rows_invalid = models.PositiveIntegerField(default=0)
    # The rows with errors left out when the operator chose "Create the N valid users".
    rows_skipped = models.PositiveIntegerField(default=0)
    # Errors of the file as a whole, beyond any one row (the account's user quota).
    errors = models.JSONField(default=list, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    job = models.OneToOneField(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="source_import")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.rows_total} rows, {self.created_at:%Y-%m-%d %H:%M})"

    @property
    def is_valid(self) -> bool:
        return self.rows_total > 0 and self.rows_invalid == 0 and not self.errors


class ImportRow(models.Model):
    """One row of an uploaded CSV: its plan when valid, else its errors by column."""

    upload = models.ForeignKey(UserImport, on_delete=models.CASCADE, related_name="rows")
    line = models.PositiveIntegerField()  # the line in the file (the header is line 1)
    user_name = models.CharField(max_length=128, blank=True)  # as given, cut for display
    plan = models.JSONField(null=True, blank=True)  # UserPlan.to_json() of a valid row
    # [{"column": "groups", "message": "…"}], in column order; empty for a valid row.
    errors = models.JSONField(default=list, blank=True)
    is_valid = models.BooleanField(default=True)
    # The row's cells as given, by import column (only the known columns: never a password,
    # which the import refuses), for the file of the rows with errors to fix and upload again.
    values = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["upload", "line"]
        indexes = [models.Index(fields=["upload", "is_valid", "line"])]

    def __str__(self) -> str:
        return f"line {self.line}: {self.user_name}"


# --- The users list's column catalogue (its cells: users/list_columns.py) ----------------------
# User name is always shown, first; the others can be chosen.

PAGE_SIZES = (10, 25, 50)


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    # Where its cells come from: the users index, IAM's credential report, or ListAccessKeys.
    source: Literal["index", "report", "keys"] = "index"


COLUMNS = (
    Column("path", "Path"),
    Column("groups", "Groups"),
    Column("last_activity", "Last activity", "report"),
    Column("mfa", "MFA", "report"),
    Column("password_age", "Password age", "report"),
    Column("console_last_sign_in", "Console last sign-in", "report"),
    Column("access_key_id", "Access key ID", "keys"),
    Column("active_key_age", "Active key age", "report"),
    Column("access_key_last_used", "Access key last used", "report"),
    Column("group_count", "Group count"),
    Column("arn", "ARN"),
    Column("created", "Created"),
)
# The AWS console's default columns, for operators who have chosen none.
DEFAULT_COLUMNS = tuple(column.key for column in COLUMNS[:9])


def visible_columns(keys: Any) -> list[Column]:
    """The columns after User name, in the console's order: the chosen ones that exist
    (unknown names are ignored), or the defaults when `keys` is not a list of choices."""
    chosen = set(keys) if isinstance(keys, list) else set(DEFAULT_COLUMNS)
    return [column for column in COLUMNS if column.key in chosen]


class ListPreferences(models.Model):
    """How one operator likes the users list: its columns (the catalogue above) and page size."""

    operator = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="list_preferences")
    # The chosen column keys; null until the operator chooses: the AWS console's defaults.
    columns = models.JSONField(null=True, blank=True)
    per_page = models.PositiveSmallIntegerField(default=25, choices=[(size, str(size)) for size in PAGE_SIZES])

    class Meta:
        verbose_name_plural = "list preferences"

    def __str__(self) -> str:
        return f"users list of {self.operator}"

    @classmethod
    def of(cls, operator: User) -> ListPreferences:
        """The operator's saved preferences, else the defaults (not saved)."""
        return cls.objects.filter(operator=operator).first() or cls(operator=operator)

    def visible_columns(self) -> list[Column]:
        return visible_columns(self.columns)


class OperatorIdentity(models.Model):
    """The operator's account at the identity provider (OpenID Connect): its issuer and subject,
    the one identifier an IdP promises never to reassign. Found by them at every sign-in
    (users/oidc/accounts.py); an operator signed in this way has no usable password."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="operator_identity")
    issuer = models.CharField(max_length=512)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    last_sign_in_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "operator identities"
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="operator_identity_issuer_subject")]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"


class DriftVisit(models.Model):
    """One operator's last look at what changed in IAM outside the console (users/drift/): the
    users as the users index and credential report showed them when the operator last marked
    the changes as seen, and the changes noticed since, each with when it was first seen.

    Compact: one row per operator and IAM, its two blobs zlib-compressed JSON (5,000 users make
    about 100 kB), no secrets (group and policy names, access keys' creation times, flags)."""

    operator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # Which IAM (backend, endpoint and role, hashed): each has its own baseline.
    scope = models.CharField(max_length=64)
    # The last visit: when the snapshot was taken (the first visit's baseline, or Mark as seen).
    seen_at = models.DateTimeField()
    # When IAM generated the credential report the snapshot's keys and passwords come from.
    report_at = models.DateTimeField(null=True, blank=True)
    snapshot = models.BinaryField()  # {user name: [user id, groups, policies, password, keys]}
    pending = models.BinaryField(default=b"")  # {change key: first seen (epoch seconds)}
    pending_count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["operator", "scope"], name="one_drift_visit_per_operator")]

    def __str__(self) -> str:
        return f"{self.operator} last saw IAM at {self.seen_at:%Y-%m-%d %H:%M}"
