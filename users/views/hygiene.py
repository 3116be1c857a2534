"""Access-key hygiene (issue 17): the account's stale access keys and its console users without
MFA, from IAM's credential report (users/hygiene/report.py), each key linked to its Rotate;
the CSV of the report; Deactivate of selected keys, confirmed, then run as a job.

Viewers see the page and export it; only operators (and not when IAM_READ_ONLY) deactivate.
The page makes one credential report read for the account, plus ListAccessKeys (cached) for
just the users of the stale keys on the page shown: never a call per user of the account.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_POST

from users import audit, jobs
from users.forms.hygiene import NO_KEYS_SELECTED_MESSAGE, HygieneForm, selected_keys
from users.hygiene.deactivation import MAX_KEYS, start_deactivation
from users.hygiene.report import HygieneReport, attach_key_ids, hygiene_csv, hygiene_report
from users.iam.errors import CredentialReportNotReady, IamError
from users.iam.gateway import IamGateway
from users.views.shortcuts import bad_request, changes_iam, gateway_for, operator_for, queue_unavailable

ROWS_PER_PAGE = 50
# A console event of the audit trail, as the credential report's download is one.
EXPORT_ACTION = "ExportAccessKeyHygiene"


def _report(gateway: IamGateway, days: int, *, fresh: bool) -> tuple[HygieneReport | None, str]:
    """The hygiene report, or None and why not (IAM still making its report, or refusing it)."""
    try:
        credential_report = gateway.credential_report(fresh=fresh)
    except CredentialReportNotReady:
        return None, "IAM is still generating its credential report: refresh in a few seconds."
    except IamError as error:
        return None, f"IAM did not give its credential report ({error.code})."
    return hygiene_report(credential_report, days=days, now=timezone.now()), ""


@require_GET
def hygiene(request: HttpRequest) -> HttpResponse:
    """The report for ?days= (the deployment's ACCESS_KEY_MAX_AGE_DAYS by default): one page of
    stale keys (?page=) with their ids, and one of console users without MFA (?mfa_page=)."""
    form = HygieneForm(request.GET)
    context: dict[str, object] = {"form": form, "default_days": settings.ACCESS_KEY_MAX_AGE_DAYS}
    if not form.is_valid():  # the error next to the field, and no report for a number not given
        return render(request, "users/hygiene/page.html", context, status=400)
    days = form.threshold()
    gateway = gateway_for(request)
    report, problem = _report(gateway, days, fresh="refresh" in request.GET)
    context |= {"days": days, "report": report, "problem": problem}
    if report is not None:
        page = Paginator(report.stale_keys, ROWS_PER_PAGE).get_page(request.GET.get("page"))
        names = list(dict.fromkeys(row.user_name for row in page))
        # The keys of this page's users only (cached): the ids the report does not name.
        keys = gateway.cached_access_keys(names, fresh="refresh" in request.GET) if names else {}
        mfa_page = Paginator(report.without_mfa, ROWS_PER_PAGE).get_page(request.GET.get("mfa_page"))
        context |= {
            "page": page,
            "rows": attach_key_ids(list(page), keys),
            "mfa_page": mfa_page,
            "pager_query": f"days={days}&mfa_page={mfa_page.number}&",
        }
    return render(request, "users/hygiene/page.html", context)


@require_GET
def hygiene_export(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """The whole report (every stale key, every user without MFA) as CSV, audited."""
    form = HygieneForm(request.GET)
    if not form.is_valid():
        return bad_request(request, "The number of days is not valid: nothing was exported.", form.errors)
    days = form.threshold()
    report, problem = _report(gateway_for(request), days, fresh=False)
    if report is None:
        messages.error(request, problem)
        return redirect("users:hygiene")
    audit.record(
        operator=operator_for(request),
        action=EXPORT_ACTION,
        target="account",
        parameters={"days": days, "stale_keys": len(report.stale_keys), "without_mfa": len(report.without_mfa)},
        outcome="success",
    )
    response = StreamingHttpResponse(hygiene_csv(report), content_type="text/csv; charset=utf-8")
    name = f"access_key_hygiene_{days}d_{report.generated:%Y-%m-%dT%H%M%SZ}.csv"
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=name)
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_POST
@changes_iam
def hygiene_deactivate(request: HttpRequest) -> HttpResponse:
    """Deactivate the selected keys: first a confirmation listing them, then (`confirm`) a job
    with one item per user, whose page shows each key's result."""
    try:
        selection = selected_keys(request.POST.getlist("key"), limit=MAX_KEYS)
    except ValueError:
        return bad_request(request, f"That selection is not a list of at most {MAX_KEYS} access keys: nothing changed.")
    if not selection:
        messages.error(request, NO_KEYS_SELECTED_MESSAGE)
        return redirect("users:hygiene")
    if not request.POST.get("confirm"):
        pairs = [(user, key_id) for user, ids in selection.items() for key_id in ids]
        return render(request, "users/hygiene/confirm.html", {"pairs": pairs, "days": request.POST.get("days", "")})
    try:
        job = start_deactivation(operator=operator_for(request), selection=selection)
    except jobs.JobQueueUnavailable:
        return queue_unavailable(request, created=False)
    return redirect("users:job_detail", job_id=job.id)
