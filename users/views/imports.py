"""Import users: upload a CSV, see its dry run, confirm to start the job (users/imports.py);
download the rows with errors to fix them; and Export users, the other way round.

Operators only, but for Export users (a read: viewers too). A dry run is its uploader's alone:
anyone else gets 404.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, cast

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from users import audit, imports, jobs
from users.forms.imports import ImportForm
from users.forms.users import UserSearchForm
from users.iam.errors import IamError
from users.iam.gateway import IamGateway
from users.models import ImportRow, UserImport
from users.plans import terraform
from users.provisioning import UserPlan
from users.views.shortcuts import (
    bad_request,
    changes_iam,
    gateway_for,
    make_attachment,
    operator_for,
    queue_unavailable,
    search_users,
)

ROWS_PER_PAGE = 100
RECENT_IMPORTS = 10


@require_http_methods(["GET", "POST"])
@changes_iam
def import_users(request: HttpRequest) -> HttpResponse:
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        operator = operator_for(request)
        gateway = IamGateway.from_settings(operator=operator)
        try:
            dry_run = imports.dry_run(upload.file, file_name=upload.name, operator=operator, gateway=gateway)
        except imports.ImportFileError as error:
            form.add_error("file", str(error))
        except IamError as error:
            form.add_error(None, f"IAM could not be read, so nothing was checked: {error.message}")
        else:
            return redirect("users:import_plan", import_id=dry_run.id)
    context = {
        "form": form,
        "columns": imports.COLUMNS,
        "max_rows": imports.MAX_ROWS,
        "recent": UserImport.objects.filter(operator=operator_for(request)).select_related("job")[:RECENT_IMPORTS],
    }
    return render(request, "users/import/upload.html", context, status=400 if form.errors else 200)


@require_GET
def import_template(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(imports.template_csv(), content_type="text/csv; charset=utf-8")
    make_attachment(response, "users-import.csv")
    return response


@require_GET
@changes_iam
def import_plan(request: HttpRequest, import_id: uuid.UUID) -> HttpResponse:
    upload = get_object_or_404(UserImport, pk=import_id, operator=operator_for(request))
    only_errors = request.GET.get("show") != "all" and upload.rows_invalid > 0
    rows = upload.rows.filter(is_valid=False) if only_errors else upload.rows.all()
    page = Paginator(rows, ROWS_PER_PAGE).get_page(request.GET.get("page"))
    valid = upload.rows.filter(is_valid=True)
    sample = valid.first()
    context = {
        "upload": upload,
        "page": page,
        "only_errors": only_errors,
        "valid_count": upload.rows_total - upload.rows_invalid,
        "console_count": valid.filter(plan__console_access=True).count(),
        "key_count": valid.filter(plan__programmatic_access=True).count(),
        "sample": sample,
        # A valid row always holds its plan.
        "sample_cli": UserPlan.from_json(cast("dict[str, Any]", sample.plan)).cli_commands() if sample else [],
        "sample_terraform": _terraform(upload, [sample]) if sample else "",
        "expired": imports.is_expired(upload),
        "can_create_valid": imports.can_create_valid_rows(upload),
        "expires_at": upload.created_at + imports.PLAN_VALID_FOR,
    }
    return render(request, "users/import/plan.html", context)


@require_POST
@changes_iam
def import_confirm(request: HttpRequest, import_id: uuid.UUID) -> HttpResponse:
    operator = operator_for(request)
    upload = get_object_or_404(UserImport, pk=import_id, operator=operator)
    try:
        valid_only = request.POST.get("rows") == "valid"  # "Create the N valid users"
        job = imports.confirm(upload, operator=operator, session=request.session, valid_only=valid_only)
    except imports.NotConfirmable as error:
        messages.error(request, str(error))
        return redirect("users:import_plan", import_id=upload.id)
    except jobs.JobQueueUnavailable:
        return queue_unavailable(request)
    except IamError as error:
        messages.error(request, f"Nothing was created: IAM could not be read ({error.message}).")
        return redirect("users:import_plan", import_id=upload.id)
    return redirect("users:job_detail", job_id=job.id)


@require_GET
@changes_iam
def import_bad_rows(request: HttpRequest, import_id: uuid.UUID) -> StreamingHttpResponse:
    """The dry run's rows with errors, in the import format plus their errors, to fix and upload."""
    upload = get_object_or_404(UserImport, pk=import_id, operator=operator_for(request))
    stem = upload.file_name.rsplit(".", 1)[0][:100] or "import"
    response = StreamingHttpResponse(imports.bad_rows_csv(upload), content_type="text/csv; charset=utf-8")
    make_attachment(response, f"{stem}-errors.csv")
    return response


@require_GET
@changes_iam
def import_terraform(request: HttpRequest, import_id: uuid.UUID) -> HttpResponse:
    """The dry run's valid rows as Terraform (no secret: users/plans/terraform.py)."""
    upload = get_object_or_404(UserImport, pk=import_id, operator=operator_for(request))
    text = _terraform(upload, upload.rows.filter(is_valid=True).only("plan").iterator())
    response = HttpResponse(text, content_type=terraform.CONTENT_TYPE)
    make_attachment(response, terraform.FILE_NAME)
    return response


def _terraform(upload: UserImport, rows: Iterable[ImportRow]) -> str:
    invalid = upload.rows_invalid
    skipped = f" ({invalid} row{'s' if invalid != 1 else ''} with errors left out)" if invalid else ""
    return terraform.render(
        # A valid row always holds its plan.
        (UserPlan.from_json(cast("dict[str, Any]", row.plan)) for row in rows),
        source=f"from the valid rows of the dry run of {upload.file_name}{skipped}",
    )


@require_GET
def export_users(request: HttpRequest) -> HttpResponse:
    """The users the list shows for its search (all pages), as an import file; audited."""
    form = UserSearchForm(request.GET)
    if not form.is_valid():
        return bad_request(request, "That search cannot be exported.", form.errors)
    query = form.cleaned_data["q"]
    gateway = gateway_for(request)
    try:
        users = search_users(gateway, gateway.exported_users(), query)
        account_id = gateway.cached_account_info().account_id
    except IamError as error:
        messages.error(request, f"The users could not be read from IAM, so nothing was exported: {error.message}")
        return redirect("users:list")
    audit.record(
        operator=operator_for(request),
        action="ExportUsers",
        target="account",
        parameters={"query": query, "users": len(users)},
        outcome="success",
    )
    response = HttpResponse("".join(imports.users_csv(users)), content_type="text/csv; charset=utf-8")
    make_attachment(response, f"users-{account_id}.csv")
    return response
