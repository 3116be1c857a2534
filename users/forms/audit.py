"""The audit page's filters, shared by the page and its CSV export."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django import forms
from django.db.models import Q
from django.utils import timezone

from users.models import AuditEvent, AuditEventQuerySet


class AuditFilterForm(forms.Form):
    """Every filter is optional; `events()` is the filtered rows, newest first. Each exact
    filter has its own (field, at) index."""

    operator = forms.CharField(required=False, max_length=150, strip=True, label="Operator")
    action = forms.CharField(required=False, max_length=64, strip=True, label="Action")
    target = forms.CharField(required=False, max_length=512, strip=True, label="Target user or group")
    outcome = forms.ChoiceField(
        required=False, choices=[("", "Any outcome"), *AuditEvent.Outcome.choices], label="Outcome"
    )
    start = forms.DateField(required=False, label="From", input_formats=["%Y-%m-%d"])
    end = forms.DateField(required=False, label="To", input_formats=["%Y-%m-%d"])
    q = forms.CharField(required=False, max_length=128, strip=True, label="Search")

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and start > end:
            self.add_error("end", "The end date must not be before the start date.")
        return cleaned

    def events(self) -> AuditEventQuerySet:
        """The rows the valid filters select (none if the form is invalid)."""
        if not self.is_valid():
            return AuditEvent.objects.none()
        data = self.cleaned_data
        rows = AuditEvent.objects.order_by("-at", "-id")
        exact = {"operator_name": data["operator"], "action": data["action"], "target": data["target"]}
        rows = rows.filter(**{field: value for field, value in exact.items() if value})
        if data["outcome"]:
            rows = rows.filter(outcome=data["outcome"])
        # Whole days in the console's time zone, as ranges on `at` (which its indexes serve).
        zone = timezone.get_current_timezone()
        if data["start"]:
            rows = rows.filter(at__gte=datetime.combine(data["start"], time.min, tzinfo=zone))
        if data["end"] and data["end"] < date.max:
            rows = rows.filter(at__lt=datetime.combine(data["end"] + timedelta(days=1), time.min, tzinfo=zone))
        if query := data["q"]:
            rows = rows.filter(
                Q(operator_name__icontains=query)
                | Q(action__icontains=query)
                | Q(target__icontains=query)
                | Q(error_code__icontains=query)
                | Q(error_message__icontains=query)
                | Q(request_id__icontains=query)
            )
        return rows
