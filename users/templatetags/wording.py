"""How pages word times and policies, as the AWS console does (FEATURES.md §4): "Now" rather
than "0 minutes ago", "Today" where it counts in days, a policy's name rather than its ARN."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

register = template.Library()


@register.filter
def ago(moment: datetime | None) -> str:
    """ "Now" under a minute, else "7 hours ago" (Django's timesince, its largest unit)."""
    if moment is None:
        return ""
    if (timezone.now() - moment).total_seconds() < 60:
        return "Now"
    return f"{timesince(moment, depth=1)} ago"


@register.filter
def days_ago(moment: datetime | None) -> str:
    """ "today", "yesterday", "12 days ago": whole days in the console's time zone, for the
    summary's "Used today. Created today." """
    if moment is None:
        return ""
    days = (timezone.localdate() - timezone.localdate(moment)).days
    if days <= 0:
        return "today"
    return "yesterday" if days == 1 else f"{days} days ago"


@register.filter
def policy_name(arn: str) -> str:
    """A managed policy's name: the last part of its ARN (arn:aws:iam::aws:policy/job-function/X → X)."""
    return arn.rsplit("/", 1)[-1]
