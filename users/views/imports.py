"""Import users: upload a CSV, see its dry run, confirm to start the job (users/imports.py).

Operators only. A dry run is its uploader's alone: anyone else gets 404.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from users import imports, jobs
from users.forms.imports import ImportForm
from users.iam.errors import IamError
from users.iam.gateway import IamGateway
from users.models import UserImport
from users.provisioning import UserPlan
from users.views.shortcuts import changes_iam, operator_for, queue_unavailable

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
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename="users-import.csv")
    response["X-Content-Type-Options"] = "nosniff"
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
        "expired": imports.is_expired(upload),
        "expires_at": upload.created_at + imports.PLAN_VALID_FOR,
    }
    return render(request, "users/import/plan.html", context)


@require_POST
@changes_iam
def import_confirm(request: HttpRequest, import_id: uuid.UUID) -> HttpResponse:
    operator = operator_for(request)
    upload = get_object_or_404(UserImport, pk=import_id, operator=operator)
    try:
        job = imports.confirm(upload, operator=operator, session=request.session)
    except imports.NotConfirmable as error:
        messages.error(request, str(error))
        return redirect("users:import_plan", import_id=upload.id)
    except jobs.JobQueueUnavailable:
        return queue_unavailable(request)
    except IamError as error:
        messages.error(request, f"Nothing was created: IAM could not be read ({error.message}).")
        return redirect("users:import_plan", import_id=upload.id)
    return redirect("users:job_detail", job_id=job.id)
