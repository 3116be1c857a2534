"""Views of a job: its progress page, the progress JSON, the Success (credentials) page, the
credentials CSV and `~/.aws/credentials` snippet, and the Close, Retry and Cancel actions.

A job is its operator's alone: anyone else gets 404; its credentials are the session's that
started it (`jobs.start_job(session=...)`). The pages that carry secrets are
`never_cache` (no-store, private) and answer 410 once the secrets are gone (Close, expiry,
tampering), never 500 (RELIABILITY.md §2.5).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, cast

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, F, Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET, require_POST

from users import credentials, jobs, retrievals
from users.exports import aws_credentials_file, credentials_csv
from users.hygiene.keys import step_names as plan_step_names
from users.models import Job, JobItem
from users.views.shortcuts import (
    changes_iam,
    credentials_file_response,
    make_attachment,
    operator_for,
    queue_unavailable,
)

ITEMS_PER_PAGE = 50
JOBS_PER_PAGE = 25
# Up to this many users, the Success page shows each one's secrets; beyond, it says how many
# are waiting and offers the CSV (a page of 5,000 passwords helps nobody).
INLINE_CREDENTIALS_MAX = 25
# The progress JSON's short names of the statuses (their first letters differ).
STATUS_LETTERS = {status[0]: status for status in JobItem.Status.values}
NAMED_USERS = 3  # the job list names a job's first users, then says how many more


def _job_for(request: HttpRequest, job_id: uuid.UUID) -> Job:
    """The job, if it is the requesting operator's; else 404 (never 403: ids are not hints)."""
    return get_object_or_404(Job, pk=job_id, operator_id=request.user.pk)


def _gone(request: HttpRequest) -> HttpResponse:
    return render(request, "users/jobs/credentials_gone.html", status=410)


@require_GET
def job_list(request: HttpRequest) -> HttpResponse:
    """The operator's jobs, newest first, with their counts, where they came from (the wizard or
    an import's file) and their first users: the same three queries (the count, the jobs, their
    first users) however many jobs the page has."""
    counts = {status: Count("items", filter=Q(items__status=status)) for status in JobItem.Status.values}
    rows = (
        Job.objects.filter(operator_id=request.user.pk)
        .annotate(total=Count("items"), file_name=F("source_import__file_name"), **counts)
        .order_by("-created_at")
    )
    page = Paginator(rows, JOBS_PER_PAGE).get_page(request.GET.get("page"))
    names: dict[uuid.UUID, list[str]] = {}
    first = JobItem.objects.filter(job_id__in=[job.pk for job in page], position__lt=NAMED_USERS)
    for job_id, user_name in first.order_by("job_id", "position").values_list("job_id", "user_name"):
        names.setdefault(job_id, []).append(user_name)
    jobs_named = [(job, ", ".join(names.get(job.pk, [])), max(0, cast(Any, job).total - NAMED_USERS)) for job in page]
    return render(request, "users/jobs/list.html", {"page": page, "jobs": jobs_named})


@require_GET
@never_cache
def job_detail(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    job = _job_for(request, job_id)
    with jobs.one_snapshot():
        counts = jobs.job_counts(job)
        page = _items_page(job, request)
        items = [(item, _step_rows(item)) for item in page]
    if not counts.is_finished:
        jobs.expect_notice(job.operator_id)  # the top bar tells of it if it ends while they are elsewhere
    status = request.GET.get("status", "")
    readable = not job.credentials_closed_at and jobs.is_bound_to_session(request.session, job)
    has_credentials = (
        readable
        and job.items.filter(Q(status=JobItem.Status.DONE) | Q(has_password=True) | ~Q(access_key_id="")).exists()
    )
    # A job that ended well moves on to its Success page, even if it ended before this page
    # loaded, as long as its secrets may still be there (finished_at lags the last item a bit).
    ttl = timedelta(seconds=settings.CREDENTIALS_TTL)
    fresh = job.finished_at is None or timezone.now() - job.finished_at < ttl
    forward = counts.all_done and has_credentials and fresh
    context = {
        "job": job,
        "counts": counts,
        "items": items,
        "page": page,
        "status": status if status in JobItem.Status.values else "",
        "statuses": JobItem.Status.choices,
        "has_credentials": has_credentials,
        "forward": forward,
    }
    return render(request, "users/jobs/detail.html", context)


@require_GET
@never_cache
def job_progress(request: HttpRequest, job_id: uuid.UUID) -> JsonResponse:
    """The counts, and the status of the items on the page the browser shows, read at one moment
    so that they agree. Polled every second by every operator watching a job, so it reads each
    item's id and status only, and the steps (the `row`) of just the items whose status is not
    the one the browser shows (`?known=<id><its status's first letter>,...`): a row's badge
    and steps then change together."""
    job = _job_for(request, job_id)
    known = _known_statuses(request.GET.get("known", ""))
    with jobs.one_snapshot():
        data: dict[str, Any] = jobs.job_counts(job).as_dict()
        # Not each item's plan and steps; its job, which the related manager sets on each item.
        page = _items_page(job, request, only=("id", "status", "job"))
        data["items"] = [{"id": item.pk, "status": item.status, "label": item.get_status_display()} for item in page]
        changed = [item["id"] for item in data["items"] if known.get(item["id"], item["status"]) != item["status"]]
        rows = {item.pk: _item_row(item) for item in job.items.filter(pk__in=changed)} if changed else {}
    for item in data["items"]:
        if item["id"] in rows:
            item["row"] = rows[item["id"]]
    return JsonResponse(data)


def _known_statuses(value: str) -> dict[int, str]:
    """`?known=12q,13d` as {12: "queued", 13: "done"}; what is not understood is left out."""
    known = {}
    for token in value.split(",")[:ITEMS_PER_PAGE]:
        number, letter = token[:-1], token[-1:]
        if number.isascii() and number.isdigit() and letter in STATUS_LETTERS:
            known[int(number)] = STATUS_LETTERS[letter]
    return known


def _item_row(item: JobItem) -> dict[str, Any]:
    """What a row of the job page shows beyond its badge, for static/js/job_progress.js."""
    return {
        "started": bool(item.steps),
        "steps": _step_rows(item),
        "error_code": item.error_code,
        "error_message": item.error_message,
        "seconds": item.seconds,
        "attempts": item.attempts,
    }


def _items_page(job: Job, request: HttpRequest, *, only: tuple[str, ...] = ()) -> Any:
    """One page of the job's items, in file order, optionally of one status (?status=, ?page=);
    of their fields `only` these, if given."""
    items = job.items.only(*only) if only else job.items.all()
    status = request.GET.get("status")
    if status in JobItem.Status.values:
        items = items.filter(status=status)
    return Paginator(items, ITEMS_PER_PAGE).get_page(request.GET.get("page"))


@require_GET
@never_cache
@sensitive_variables("lines", "context")
def job_credentials(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    job = _job_for(request, job_id)
    lines = _lines_or_none(job, request)
    if lines is None:
        return _gone(request)
    jobs.audit_retrieval(job, operator=operator_for(request), action=retrievals.SHOW, users=len(lines))
    context = {
        "job": job,
        "lines": lines,
        "show_password": any(line.item.has_password or line.console_access for line in lines),
        "show_access_key": any(line.access_key_id for line in lines),
        "show_email": any(line.email_link for line in lines),
        "pending": jobs.job_counts(job).is_finished is False,
        "inline": len(lines) <= INLINE_CREDENTIALS_MAX,
        "passwords_waiting": sum(1 for line in lines if line.password),
        "keys_waiting": sum(1 for line in lines if line.secret_access_key),
        "expires_at": jobs.credentials_expire_at(job),
    }
    return render(request, "users/jobs/credentials.html", context)


@require_GET
@never_cache
@sensitive_variables("lines", "rows")
def job_credentials_csv(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse | StreamingHttpResponse:
    job = _job_for(request, job_id)
    lines = _lines_or_none(job, request)
    if lines is None:
        return _gone(request)
    jobs.audit_retrieval(job, operator=operator_for(request), action=retrievals.DOWNLOAD_CSV, users=len(lines))
    rows = [line.csv_row() for line in lines]
    response = StreamingHttpResponse(credentials_csv(rows, job.sign_in_url), content_type="text/csv; charset=utf-8")
    make_attachment(response, "credentials.csv")
    return response


@require_POST
@never_cache
@sensitive_variables("lines", "rows", "text")
def job_credentials_file(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    """The job's access keys as a `~/.aws/credentials` snippet, one profile per user with a key:
    the CSV's rules (this session's, 404 to any other, 410 once gone, audited, no-store), by POST
    so that no link, prefetch or history entry can fetch it. 404 for a job that made no key."""
    job = _job_for(request, job_id)
    lines = _lines_or_none(job, request)
    if lines is None:
        return _gone(request)
    rows = [line.csv_row() for line in lines if line.access_key_id and line.secret_access_key]
    if not rows:
        if any(line.item.access_key_id for line in lines):
            return _gone(request)  # its keys were made, their secrets are gone
        raise Http404("This job made no access key")
    action = retrievals.DOWNLOAD_CREDENTIALS_FILE
    jobs.audit_retrieval(job, operator=operator_for(request), action=action, users=len(rows))
    text = aws_credentials_file(rows, account_id=job.account_id)
    return credentials_file_response(text, filename=f"aws-credentials-{job.account_id}.ini")


@require_POST
@changes_iam
@never_cache
def job_close(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    """Close: only the session that started the job (the one that may read its secrets) may
    end them; any other, even the same operator's, gets 404."""
    job = _job_for(request, job_id)
    if not jobs.is_bound_to_session(request.session, job):
        raise Http404("No such job")
    jobs.close_credentials(job, operator=operator_for(request))
    messages.info(request, "The new users' credentials are closed and can no longer be retrieved.")
    response = redirect("users:list")
    response["Clear-Site-Data"] = '"cache"'
    return response


@require_POST
@changes_iam
def job_retry(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    job = _job_for(request, job_id)
    try:
        count = jobs.retry_failed(job)
    except jobs.JobQueueUnavailable:
        return queue_unavailable(request, created=False)
    if count:
        messages.info(request, f"Retrying {count} user{'s' if count != 1 else ''} from the failed step.")
    return redirect("users:job_detail", job_id=job.id)


@require_POST
@changes_iam
def job_cancel(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    job = _job_for(request, job_id)
    count = jobs.cancel(job)
    messages.info(request, f"Cancelled {count} user{'s' if count != 1 else ''} not started yet.")
    return redirect("users:job_detail", job_id=job.id)


def _lines_or_none(job: Job, request: HttpRequest) -> list[jobs.CredentialsLine] | None:
    """The credentials lines, or None when they are gone (410); another operator's, or the same
    operator's in another session than the one that started the job: 404."""
    if not jobs.is_bound_to_session(request.session, job):
        raise Http404("No such job")
    try:
        return jobs.read_credentials(job, operator_id=operator_for(request).pk)
    except credentials.NotYours:
        raise Http404("No such job") from None
    except credentials.CredentialsGone:
        jobs.audit_expiry(request.session, job, operator=operator_for(request))
        return None


def _step_rows(item: JobItem) -> list[dict[str, Any]]:
    """Each planned step with its latest attempt: "done", "failed", "started" or "not run"."""
    latest: dict[str, dict[str, Any]] = {}
    for entry in item.steps:
        latest[entry["step"]] = entry
    rows = []
    for step in plan_step_names(item.plan):
        operation, _, argument = step.partition(":")
        entry = latest.get(step, {})
        row = {"operation": operation, "argument": argument, "status": entry.get("status", "not run")}
        # "note": how a deactivated key's step ended (users/hygiene/keys.py).
        row.update({key: entry.get(key, "") for key in ("error_code", "error_message", "request_id", "note")})
        if entry.get("status") in ("done", "failed"):
            started, ended = (datetime.fromisoformat(entry[key]) for key in ("started_at", "at"))
            row["seconds"] = (ended - started).total_seconds()
        rows.append(row)
    return rows
