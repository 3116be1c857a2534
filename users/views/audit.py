"""The audit trail: the page (operators and viewers) and its CSV export, with the same filters.

Paged with Django's Paginator: one COUNT and one LIMIT/OFFSET query a page, each served by
the filter's (field, at) index, so the last of 1,000 pages of 100,000 rows is as cheap to
reach as the first (tests/test_audit.py counts the queries)."""

from __future__ import annotations

import json
from collections.abc import Iterator

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from users.exports import escaped_line
from users.forms.audit import AuditFilterForm
from users.models import AuditEvent, AuditEventQuerySet
from users.views.shortcuts import make_attachment

PER_PAGE = 100
CSV_HEADER = (
    "Time (UTC)",
    "Operator",
    "Action",
    "Target",
    "Outcome",
    "Error code",
    "Error message",
    "Request ID",
    "Parameters",
)


@require_GET
def audit_list(request: HttpRequest) -> HttpResponse:
    """Newest first, filtered; bad filter input is shown next to its field (and lists nothing)."""
    form = AuditFilterForm(request.GET)
    page = Paginator(form.events(), PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "actions": AuditEvent.objects.order_by("action").values_list("action", flat=True).distinct(),
    }
    return render(request, "audit/list.html", context, status=200 if form.is_valid() else 400)


@require_GET
def audit_export(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """The page's filtered rows (all of them, not one page) as CSV, streamed: every cell is
    formula-escaped (any of them may hold what someone typed)."""
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        return audit_list(request)
    response = StreamingHttpResponse(_csv_lines(form.events()), content_type="text/csv; charset=utf-8")
    make_attachment(response, "audit-events.csv")
    return response


def _csv_lines(rows: AuditEventQuerySet) -> Iterator[str]:
    yield escaped_line(CSV_HEADER)
    for event in rows.iterator(chunk_size=2000):
        yield escaped_line(
            (
                event.at.isoformat(),
                event.operator_name,
                event.action,
                event.target,
                event.outcome,
                event.error_code,
                event.error_message,
                event.request_id,
                json.dumps(event.parameters, sort_keys=True),
            )
        )
