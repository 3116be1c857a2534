"""Account settings: the account's id, alias and sign-in URL, its password policy, the
account alias (create, change, delete) and the credential report's download."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from users import audit
from users.forms.account import AccountAliasForm, PasswordPolicyForm
from users.iam.account_verbs import AliasChangeFailed
from users.iam.errors import CredentialReportNotReady, EntityAlreadyExists, InvalidInput
from users.models import AuditEvent
from users.views.shortcuts import changes_iam, gateway_for, make_attachment, operator_for

# A console event of the audit trail: the credential report downloaded (IAM's own calls to
# make it change nothing, so the gateway audits none).
DOWNLOAD_CREDENTIAL_REPORT = "DownloadCredentialReport"


def account_settings(request: HttpRequest) -> HttpResponse:
    gateway = gateway_for(request)
    context = {"account": gateway.cached_account_info(), "policy": gateway.get_password_policy()}
    return render(request, "users/account_settings.html", context)


@changes_iam
@require_http_methods(["GET", "POST"])
def password_policy_edit(request: HttpRequest) -> HttpResponse:
    gateway = gateway_for(request)
    if request.method == "POST":
        form = PasswordPolicyForm(request.POST)
        if form.is_valid():
            policy = form.to_policy()
            if policy is None:
                gateway.delete_password_policy()
                messages.success(request, "The account now uses the IAM default password policy.")
            else:
                gateway.update_password_policy(policy)
                messages.success(request, "Password policy updated.")
            return redirect("users:account_settings")
    else:
        form = PasswordPolicyForm(initial=PasswordPolicyForm.initial_for(gateway.get_password_policy()))
    return render(request, "users/password_policy_edit.html", {"form": form})


@changes_iam
@require_http_methods(["GET", "POST"])
def account_alias_edit(request: HttpRequest) -> HttpResponse:
    """Create the alias, or change it (DeleteAccountAlias, then CreateAccountAlias)."""
    gateway = gateway_for(request)
    current = gateway.account_info().alias  # not the cached one: another console may have changed it
    form = AccountAliasForm(request.POST or None, current=current, initial={"alias": current})
    if request.method == "POST" and form.is_valid():
        alias = form.cleaned_data["alias"]
        try:
            if current is None:
                gateway.create_account_alias(alias)
            else:
                gateway.change_account_alias(current, alias)
        except (EntityAlreadyExists, InvalidInput) as error:
            form.add_error("alias", f"IAM refused this alias: {error.message or error.code}")
        except AliasChangeFailed as failed:
            kept = f"The alias {current} was kept." if failed.restored else "The account has no alias now."
            form.add_error("alias", f"IAM refused this alias: {failed.error.message or failed.error.code} {kept}")
        else:
            messages.success(request, f"The account alias is now {alias}.")
            return redirect("users:account_settings")
    context = {"form": form, "current": current}
    return render(request, "users/account_alias_edit.html", context, status=400 if form.is_bound else 200)


@changes_iam
@require_http_methods(["GET", "POST"])
def account_alias_delete(request: HttpRequest) -> HttpResponse:
    """Delete the alias, after a confirmation."""
    gateway = gateway_for(request)
    current = gateway.account_info().alias
    if current is None:
        messages.info(request, "The account has no alias.")
        return redirect("users:account_settings")
    if request.method == "POST":
        gateway.delete_account_alias(current)
        messages.success(request, f"The account alias {current} was deleted.")
        return redirect("users:account_settings")
    return render(request, "users/account_alias_delete.html", {"current": current})


@never_cache
@require_GET
def credential_report_download(request: HttpRequest) -> HttpResponse:
    """IAM's credential report, byte for byte as IAM wrote it (so no formula escaping)."""
    try:
        content, generated = gateway_for(request).credential_report_csv()
    except CredentialReportNotReady as error:
        _audit_download(request, AuditEvent.Outcome.FAILURE, error_code=error.code, error_message=error.message)
        messages.error(request, "IAM is still generating the credential report. Try again in a few seconds.")
        return redirect("users:account_settings")
    _audit_download(request, AuditEvent.Outcome.SUCCESS, parameters={"generated": generated.isoformat()})
    response = HttpResponse(content, content_type="text/csv")
    name = f"status_reports_{generated:%Y-%m-%dT%H-%M-%S}Z.csv"
    make_attachment(response, name)
    return response


def _audit_download(
    request: HttpRequest,
    outcome: str,
    *,
    parameters: dict[str, str] | None = None,
    error_code: str = "",
    error_message: str = "",
) -> None:
    audit.record(
        operator=operator_for(request),
        action=DOWNLOAD_CREDENTIAL_REPORT,
        target="account",
        parameters=parameters or {},
        outcome=outcome,
        error_code=error_code,
        error_message=error_message,
    )
