"""Access-key hygiene (issue 17): the account's stale access keys and its console users without
MFA, from IAM's credential report (users/hygiene/report.py), each key linked to its Rotate;
the CSV of the report; Deactivate of selected keys, confirmed, then run as a job.

Viewers see the page and export it; only operators (and not when IAM_READ_ONLY) deactivate.
Viewing the page and exporting it read the credential report and nothing else: a key is shown
and selected by its user, slot ("Key 1", "Key 2") and creation time, as the report names it.
Key ids are read only on an explicit action, bounded by it: the Deactivate confirmation makes
one ListAccessKeys per selected user (it shows each key's id and current status, and leaves
out a key gone or already inactive), and a row's Rotate one for its user.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from users import audit, jobs
from users.forms.hygiene import (
    NO_KEYS_SELECTED_MESSAGE,
    HygieneForm,
    confirmed_key_ids,
    parse_created,
    selected_keys,
)
from users.hygiene.deactivation import MAX_KEYS, start_deactivation
from users.hygiene.report import HygieneReport, ReportedKey, hygiene_csv, hygiene_report, match_keys
from users.iam.errors import CredentialReportNotReady, IamError, NoSuchEntity
from users.iam.gateway import IamGateway
from users.iam.types import AccessKey
from users.validators import is_valid_user_name
from users.views.shortcuts import (
    bad_request,
    changes_iam,
    gateway_for,
    make_attachment,
    operator_for,
    queue_unavailable,
)

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
    stale keys (?page=), and one of console users without MFA (?mfa_page=). No per-user call."""
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
        mfa_page = Paginator(report.without_mfa, ROWS_PER_PAGE).get_page(request.GET.get("mfa_page"))
        context |= {
            "page": page,
            "rows": list(page),
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
    make_attachment(response, name)
    return response


def _current_keys(gateway: IamGateway, name: str) -> list[AccessKey]:
    """The user's keys now (one ListAccessKeys, uncached); none if IAM no longer has the user."""
    try:
        return gateway.list_access_keys(name)
    except NoSuchEntity:
        return []


@require_GET
def hygiene_rotate(request: HttpRequest, name: str, slot: int) -> HttpResponse:
    """A row's Rotate: the key of `name` created at ?created= (the report's slot `slot`), found
    with one ListAccessKeys, leads to its guided Rotate; if IAM no longer has it, to the user's
    Security credentials tab, saying so."""
    try:
        created = parse_created(request.GET.get("created", ""))
    except ValueError:
        created = None
    if created is None or slot not in (1, 2) or not is_valid_user_name(name):
        return bad_request(request, "That link does not name a user's access key.")
    wanted = ReportedKey(name, slot, created)
    [found] = match_keys([wanted], {name: _current_keys(gateway_for(request), name)})
    if found.key_id:
        return redirect("users:access_key_rotate", name=name, key_id=found.key_id)
    messages.warning(
        request, f"Access key {slot} of {name}, created {created:%Y-%m-%d %H:%M} UTC, is no longer in IAM."
    )
    return redirect(reverse("users:detail", args=[name]) + "?section=security_credentials")


@require_POST
@changes_iam
def hygiene_deactivate(request: HttpRequest) -> HttpResponse:
    """Deactivate the selected keys (`key`: as the report names them): first a confirmation
    that reads their ids and current status (one ListAccessKeys per selected user), then
    (`confirm`, with the ids it resolved in `key_id`, only of the selected users) a job with
    one item per user, whose page shows each key's result; its worker reads the keys again."""
    try:
        selection = selected_keys(request.POST.getlist("key"), limit=MAX_KEYS)
        chosen = confirmed_key_ids(request.POST.getlist("key_id"), selection)
    except ValueError:
        return bad_request(request, f"That selection is not a list of at most {MAX_KEYS} access keys: nothing changed.")
    if not selection:
        messages.error(request, NO_KEYS_SELECTED_MESSAGE)
        return redirect("users:hygiene")
    if not request.POST.get("confirm"):
        gateway = gateway_for(request)
        # One ListAccessKeys per selected user: the ids the credential report does not name.
        users = list(dict.fromkeys(key.user_name for key in selection))
        keys = match_keys(selection, {name: _current_keys(gateway, name) for name in users})
        context = {
            "keys": keys,
            "to_deactivate": [key for key in keys if key.deactivatable],
            "days": request.POST.get("days", ""),
        }
        return render(request, "users/hygiene/confirm.html", context)
    if not chosen:
        messages.error(request, "None of the selected access keys is still active: nothing changed.")
        return redirect("users:hygiene")
    try:
        job = start_deactivation(operator=operator_for(request), selection=chosen)
    except jobs.JobQueueUnavailable:
        return queue_unavailable(request, created=False)
    return redirect("users:job_detail", job_id=job.id)
