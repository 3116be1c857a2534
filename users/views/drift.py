"""Changes since your last visit (users/drift/): the page, for operators and viewers alike, and
Mark as seen, which moves the operator's own baseline (no IAM change: not audited)."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from users.drift import visits
from users.views.shortcuts import gateway_for, operator_for

PER_PAGE = 100


@require_GET
def drift_list(request: HttpRequest) -> HttpResponse:
    """The changes, newest first seen first, a page at a time; ?refresh reads IAM again."""
    operator = operator_for(request)
    drift = visits.look(gateway_for(request), operator, fresh="refresh" in request.GET)
    page = Paginator(drift.changes, PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "drift": drift,
        "page": page,
        "drift_badge": visits.Badge(operator, len(drift.changes)),  # the count just made
    }
    return render(request, "drift/list.html", context)


@require_POST
def drift_mark_seen(request: HttpRequest) -> HttpResponse:
    """Take IAM as it is now as the operator's new baseline, if the list shown is still current."""
    if visits.mark_seen(gateway_for(request), operator_for(request), request.POST.get("shown", "")):
        messages.success(request, "Marked as seen: changes made outside the console from now on will be listed here.")
    else:
        messages.warning(request, "More changes arrived while you were looking: review them, then mark them as seen.")
    return redirect("users:drift")
