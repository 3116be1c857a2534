"""The top bar's notice of the operator's jobs that finished while they were elsewhere: a
context processor (settings.TEMPLATES) whose notices are read only when the top bar shows them,
so that a page without a top bar neither asks nor marks them as told."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.http import HttpRequest

from users import jobs


class JobNotices:
    """`notices`: the finished jobs to tell of on this page, read (and marked as told) once."""

    def __init__(self, request: HttpRequest, operator_id: int) -> None:
        self._request = request
        self._operator_id = operator_id

    @cached_property
    def notices(self) -> list[jobs.FinishedJobNotice]:
        match = self._request.resolver_match
        # A job's own pages (its progress, its Success page) tell of it already.
        current = match.kwargs.get("job_id") if match and (match.url_name or "").startswith("job_") else None
        return jobs.take_finished_job_notices(self._operator_id, current_job=str(current) if current else None)


def job_notices(request: HttpRequest) -> dict[str, Any]:
    if not request.user.is_authenticated:
        return {}
    return {"job_notices": JobNotices(request, request.user.pk)}
