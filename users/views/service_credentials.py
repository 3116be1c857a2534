"""HTTPS Git credentials for AWS CodeCommit and credentials for Amazon Keyspaces (FEATURES.md §4F
items 5 and 6): Generate credentials (IAM makes the user name and the password) and Reset
password. Each new password goes to the one-time store and is shown once, by the retrieve page of
users/views/security.py (kind `service-credential`). Activate, deactivate and delete are the
tab's views for every kind of credential (users/views/security.py, kind `service-credential`)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST

from iamconsole import cache_outage
from users import credentials, retrievals
from users.iam.errors import IamError, IamUnavailable, NoSuchEntity, ServiceFailure
from users.iam.gateway import IamGateway
from users.iam.types import (
    CODECOMMIT_SERVICE,
    KEYSPACES_SERVICE,
    NewServiceSpecificCredential,
    ServiceSpecificCredential,
)
from users.validators import is_valid_user_name
from users.views.shortcuts import changes_iam, gateway_for, report_failure, security_tab_url

MAX_PER_SERVICE = 2  # IAM's quota, per service and user
SERVICES = {"codecommit": CODECOMMIT_SERVICE, "keyspaces": KEYSPACES_SERVICE}  # the URL's slug → IAM's name
SLUGS = {service: slug for slug, service in SERVICES.items()}
LABELS = {
    CODECOMMIT_SERVICE: "HTTPS Git credentials for AWS CodeCommit",
    KEYSPACES_SERVICE: "Credentials for Amazon Keyspaces (for Apache Cassandra)",
}


def _credentials_of(gateway: IamGateway, name: str) -> list[ServiceSpecificCredential]:
    """The user's service-specific credentials (one IAM call), or 404 when there is no such user."""
    if not is_valid_user_name(name):
        raise Http404(f"No IAM user named {name}")
    try:
        return gateway.list_service_specific_credentials(name)
    except NoSuchEntity:
        raise Http404(f"No IAM user named {name}") from None


@require_POST
@changes_iam
def service_credential_generate(request: HttpRequest, name: str, service: str) -> HttpResponse:
    """Generate credentials: IAM makes a user name and a password for the service (at most 2 per
    service); the password is shown once."""
    service_name = SERVICES.get(service)
    if service_name is None:
        raise Http404("Unknown service")
    gateway = gateway_for(request)
    if sum(c.service_name == service_name for c in _credentials_of(gateway, name)) >= MAX_PER_SERVICE:
        messages.error(request, f"This user already has {MAX_PER_SERVICE} {LABELS[service_name]}, the most IAM allows.")
        return redirect(security_tab_url(name))
    credentials.check_available()  # the password must be kept: stop here, not after IAM made it
    try:
        new = gateway.create_service_specific_credential(name, service_name)
    except (IamUnavailable, ServiceFailure) as error:  # it may have run: never resent blindly
        messages.error(
            request,
            f"IAM did not answer clearly ({error.code}): the credentials may have been generated. Check the list "
            "below: delete credentials whose password you do not have, then generate new ones.",
        )
        return redirect(security_tab_url(name))
    except IamError as error:  # LimitExceeded (another operator was quicker) and the rest
        report_failure(request, f"Generating {LABELS[service_name]}", error)
        return redirect(security_tab_url(name))
    return _show_once(request, gateway, name, new, generated=True)


@require_http_methods(["GET", "POST"])
@changes_iam
def service_credential_reset(request: HttpRequest, name: str, credential_id: str) -> HttpResponse:
    """Reset password, after a confirmation: IAM makes a new password (shown once), the old one
    stops working."""
    gateway = gateway_for(request)
    credential = next((c for c in _credentials_of(gateway, name) if c.credential_id == credential_id), None)
    if credential is None:
        raise Http404(f"{name} has no such credential")
    label = LABELS.get(credential.service_name, credential.service_name)
    if request.method == "GET":
        context = {"name": name, "credential": credential, "label": label}
        return render(request, "users/security/reset_service_credential.html", context)
    credentials.check_available()
    try:
        new = gateway.reset_service_specific_credential(name, credential_id)
    except IamError as error:
        report_failure(request, f"Resetting the password of {credential.service_user_name}", error)
        return redirect(security_tab_url(name))
    return _show_once(request, gateway, name, new, generated=False)


@sensitive_variables("new")
def _show_once(
    request: HttpRequest, gateway: IamGateway, name: str, new: NewServiceSpecificCredential, *, generated: bool
) -> HttpResponse:
    """Keep the new password in the one-time store and send the operator to its page. If the store
    went away since `check_available`, the password is lost: new credentials are deleted again,
    a reset password must be reset again."""
    credential = new.credential
    try:
        retrieval = retrievals.keep(
            request,
            user_name=name,
            kind=retrievals.SERVICE_CREDENTIAL,
            secret={
                "credential_id": credential.credential_id,
                "service": SLUGS.get(credential.service_name, ""),
                "service_user_name": credential.service_user_name,
                "service_password": new.service_password,
            },
        )
    except cache_outage.UNAVAILABLE as error:
        cache_outage.record_outage(error)
        _lost_password(request, gateway, name, credential, generated=generated)
        return redirect(security_tab_url(name))
    return redirect("users:retrieve", name=name, kind=retrievals.SERVICE_CREDENTIAL, retrieval_id=retrieval)


def _lost_password(
    request: HttpRequest, gateway: IamGateway, name: str, credential: ServiceSpecificCredential, *, generated: bool
) -> None:
    """Say what became of credentials whose password the one-time store could not keep."""
    unavailable = "The one-time secret store is not available: the new password could not be kept"
    if not generated:
        messages.error(request, f"{unavailable}. Reset the password of {credential.service_user_name} again later.")
        return
    try:
        gateway.delete_service_specific_credential(name, credential.credential_id)
    except IamError as error:
        messages.error(
            request,
            f"{unavailable}, and deleting the new credentials {credential.credential_id} failed ({error.code}). "
            "Delete them, then generate new ones.",
        )
        return
    messages.error(request, f"{unavailable}, so the new credentials were deleted again. Generate them later.")
