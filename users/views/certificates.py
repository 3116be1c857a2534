"""The Security credentials tab's X.509 signing certificates (FEATURES.md §4F item 7): upload a
pasted certificate, or create one (a new RSA key pair and a self-signed certificate, uploaded),
whose private key is shown once, like a new access key's secret (users/retrievals.py).
Activate, deactivate and delete are the tab's shared credential actions (users/views/security.py)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST

from iamconsole import cache_outage
from users import credentials, retrievals
from users.forms.certificates import (
    LIMIT_MESSAGE,
    MAX_CERTIFICATES_PER_USER,
    NewCertificate,
    SigningCertificateForm,
    self_signed_certificate,
)
from users.iam.errors import IamError, IamUnavailable, ServiceFailure
from users.iam.gateway import IamGateway
from users.views.shortcuts import (
    changes_iam,
    clear_site_cache,
    gateway_for,
    make_attachment,
    read_secret,
    read_user,
    report_failure,
    security_tab_url,
)

KIND = retrievals.SIGNING_CERTIFICATE
DOWNLOADS = {"private-key": "pk", "certificate": "cert"}  # file → name prefix, as EC2's tools call them


def _has_room(gateway: IamGateway, name: str) -> bool:
    return len(gateway.list_signing_certificates(name)) < MAX_CERTIFICATES_PER_USER


@require_http_methods(["GET", "POST"])
@changes_iam
def certificate_upload(request: HttpRequest, name: str) -> HttpResponse:
    """Upload X.509 certificate: a pasted PEM certificate, checked before IAM (the third is refused)."""
    gateway = gateway_for(request)
    details = read_user(gateway, name)
    form = SigningCertificateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if not _has_room(gateway, name):
            form.add_error("body", LIMIT_MESSAGE)
        else:
            try:
                certificate = gateway.upload_signing_certificate(name, form.cleaned_data["body"])
            except IamError as error:
                form.add_error("body", f"IAM refused the certificate: {error.code}. {error.message}")
            else:
                messages.success(request, f"Signing certificate {certificate.certificate_id} uploaded.")
                return redirect(security_tab_url(name))
    context = {"iam_user": details.user, "form": form}
    return render(request, "users/security/certificate_upload.html", context, status=400 if form.is_bound else 200)


@require_http_methods(["GET", "POST"])
@changes_iam
@never_cache
@sensitive_variables("new")
def certificate_create(request: HttpRequest, name: str) -> HttpResponse:
    """Create X.509 certificate: on POST, a new key pair and a self-signed certificate; the
    certificate goes to IAM, the private key only to the one-time store and its page."""
    gateway = gateway_for(request)
    details = read_user(gateway, name)
    if not _has_room(gateway, name):
        messages.error(request, f"{LIMIT_MESSAGE} Delete one to create another.")
        return redirect(security_tab_url(name))
    if request.method == "GET":
        return render(request, "users/security/certificate_create.html", {"iam_user": details.user})
    credentials.check_available()  # the private key must be kept
    new = self_signed_certificate(name, gateway.cached_account_info().account_id)
    return _upload_and_keep(request, gateway, name, new)


@sensitive_variables("new", "secret")
def _upload_and_keep(request: HttpRequest, gateway: IamGateway, name: str, new: NewCertificate) -> HttpResponse:
    try:
        certificate = gateway.upload_signing_certificate(name, new.certificate_pem)
    except (IamUnavailable, ServiceFailure) as error:  # it may have been uploaded
        messages.error(
            request,
            f"IAM did not answer clearly ({error.code}): the certificate may have been uploaded. Check the "
            "signing certificates below: delete one whose private key you do not have, then create a new one.",
        )
        return redirect(security_tab_url(name))
    except IamError as error:
        report_failure(request, "Create X.509 certificate", error)
        return redirect(security_tab_url(name))
    secret = {
        "certificate_id": certificate.certificate_id,
        "certificate": new.certificate_pem,
        "private_key": new.private_key_pem,
    }
    try:
        retrieval = retrievals.keep(request, user_name=name, kind=KIND, secret=secret)
    except cache_outage.UNAVAILABLE as error:  # Redis went away since check_available
        cache_outage.record_outage(error)
        _discard_unkept(request, gateway, name, certificate.certificate_id)
        return redirect(security_tab_url(name))
    return redirect("users:certificate_retrieve", name=name, retrieval_id=retrieval)


def _discard_unkept(request: HttpRequest, gateway: IamGateway, name: str, certificate_id: str) -> None:
    """A certificate whose private key the store could not keep is of no use: delete it (audited)."""
    try:
        gateway.delete_signing_certificate(name, certificate_id)
    except IamError as error:
        messages.error(
            request,
            f"Signing certificate {certificate_id} was created, but the one-time secret store is not available: "
            f"its private key could not be kept, and deleting it failed ({error.code}). Delete it, then create a "
            "new one.",
        )
        return
    messages.error(
        request,
        "The one-time secret store is not available: the new certificate's private key could not be kept, so "
        f"the certificate ({certificate_id}) was deleted again. Create one once the store is back.",
    )


@never_cache
@sensitive_variables("secret", "context")
def certificate_retrieve(request: HttpRequest, name: str, retrieval_id: str) -> HttpResponse:
    """The created certificate and its private key, for the session that created them only."""
    secret = read_secret(request, name, KIND, retrieval_id, action=retrievals.SHOW)
    if isinstance(secret, HttpResponse):
        return secret
    context = {"name": name, "secret": secret, "retrieval_id": retrieval_id}
    return render(request, "users/security/certificate_retrieve.html", context)


@never_cache
@sensitive_variables("secret", "body")
def certificate_download(request: HttpRequest, name: str, retrieval_id: str, file: str) -> HttpResponse:
    """The private key or the certificate as a .pem file (the private key's download audited)."""
    if file not in DOWNLOADS:
        raise Http404("No such file")
    action = retrievals.DOWNLOAD_KEY if file == "private-key" else None
    secret = read_secret(request, name, KIND, retrieval_id, action=action)
    if isinstance(secret, HttpResponse):
        return secret
    body = secret["private_key"] if file == "private-key" else secret["certificate"]
    filename = f"{DOWNLOADS[file]}-{secret['certificate_id']}.pem"
    response = HttpResponse(body, content_type="application/x-pem-file")
    make_attachment(response, filename)
    return response


@require_POST
@never_cache
def certificate_done(request: HttpRequest, name: str, retrieval_id: str) -> HttpResponse:
    """Done: the private key is deleted from the store (audited); any other session gets 404."""
    try:
        retrievals.finish(request, retrieval_id, kind=KIND, user_name=name)
    except credentials.NotYours:
        raise Http404("No such secret") from None
    return clear_site_cache(redirect(security_tab_url(name)))
