"""The Security credentials tab's MFA devices (FEATURES.md §4F): assign a virtual device (its
QR code, drawn here, or its seed shown once, then two consecutive codes), resync a device, and
remove one."""

from __future__ import annotations

from urllib.parse import quote

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods

from iamconsole import qr
from users import credentials, retrievals
from users.forms.mfa import MAX_MFA_DEVICES_PER_USER, MfaCodesForm, MfaDeviceNameForm
from users.iam.errors import EntityAlreadyExists, IamError, NoSuchEntity
from users.iam.gateway import IamGateway
from users.iam.types import AccountInfo, MfaDevice
from users.views.shortcuts import (
    changes_iam,
    clear_site_cache,
    gateway_for,
    read_secret,
    read_user,
    report_failure,
    security_tab_url,
)

ISSUER = "Amazon Web Services"  # as in the URI of IAM's own QR code


def _device_of(request: HttpRequest, gateway: IamGateway, name: str) -> MfaDevice:
    """The user's MFA device named by `serial` (query or form), or 404."""
    details = read_user(gateway, name)
    serial = (request.POST if request.method == "POST" else request.GET).get("serial", "")
    device = next((device for device in details.mfa_devices if device.serial_number == serial), None)
    if device is None:
        raise Http404(f"{name} has no such MFA device")
    return device


@sensitive_variables("seed")
def otpauth_uri(seed: str, *, user_name: str, account: AccountInfo) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code, as IAM writes it: the label
    `Amazon Web Services:<user>@<account alias, else id>`, the seed, the issuer."""
    label = quote(f"{ISSUER}:{user_name}@{account.alias or account.account_id}", safe=":@")
    return f"otpauth://totp/{label}?secret={seed}&issuer={quote(ISSUER, safe='')}"


@require_http_methods(["GET", "POST"])
@changes_iam
def mfa_device_remove(request: HttpRequest, name: str) -> HttpResponse:
    """Remove an MFA device (?serial=…): unassign it, and delete it if it is a virtual one."""
    gateway = gateway_for(request)
    device = _device_of(request, gateway, name)
    serial = device.serial_number
    if request.method == "GET":
        return render(request, "users/security/remove_mfa_device.html", {"name": name, "device": device})
    try:
        gateway.deactivate_mfa_device(name, serial)
        if device.is_virtual:
            gateway.delete_virtual_mfa_device(serial)
    except IamError as error:
        report_failure(request, f"Removing MFA device {serial}", error)
        return redirect(security_tab_url(name))
    messages.success(request, f"MFA device {serial} removed.")
    return redirect(security_tab_url(name))


@require_http_methods(["GET", "POST"])
@changes_iam
def mfa_device_assign(request: HttpRequest, name: str) -> HttpResponse:
    """Assign MFA device, step 1: name a new virtual device (CreateVirtualMFADevice); its seed
    goes to the one-time store for step 2."""
    gateway = gateway_for(request)
    details = read_user(gateway, name)
    if len(details.mfa_devices) >= MAX_MFA_DEVICES_PER_USER:
        messages.error(request, f"Each user can have a maximum of {MAX_MFA_DEVICES_PER_USER} MFA devices assigned.")
        return redirect(security_tab_url(name))
    form = MfaDeviceNameForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        credentials.check_available()  # the seed must be kept
        try:
            device = gateway.create_virtual_mfa_device(form.cleaned_data["device_name"])
        except EntityAlreadyExists:
            form.add_error("device_name", "A virtual MFA device with this name already exists in the account.")
        except IamError as error:
            form.add_error("device_name", f"IAM refused it: {error.code}. {error.message}")
        else:
            retrieval = retrievals.keep(
                request,
                user_name=name,
                kind=retrievals.MFA_SEED,
                secret={"serial_number": device.serial_number, "seed": device.seed},
            )
            return redirect("users:mfa_device_codes", name=name, retrieval_id=retrieval)
    context = {"iam_user": details.user, "form": form}
    return render(request, "users/security/mfa_assign.html", context, status=400 if form.is_bound else 200)


@require_http_methods(["GET", "POST"])
@never_cache
def mfa_device_codes(request: HttpRequest, name: str, retrieval_id: str) -> HttpResponse:
    """Assign MFA device, step 2: the QR code (or the secret key) and two consecutive codes
    (EnableMFADevice). Cancel deletes the unassigned device. Any session but the one that
    made the seed gets 404, viewers included (the seed's binding is checked first)."""
    secret = read_secret(request, name, retrievals.MFA_SEED, retrieval_id)
    if isinstance(secret, HttpResponse):
        return secret
    return _mfa_codes_step(request, name, retrieval_id, secret)


@changes_iam
@sensitive_variables("secret")
def _mfa_codes_step(request: HttpRequest, name: str, retrieval_id: str, secret: dict[str, str]) -> HttpResponse:
    gateway = gateway_for(request)
    serial = secret["serial_number"]
    if request.method == "POST" and "cancel" in request.POST:
        return _cancel_mfa_assignment(request, gateway, name, serial, retrieval_id)
    form = MfaCodesForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            gateway.enable_mfa_device(name, serial, form.cleaned_data["code_1"], form.cleaned_data["code_2"])
        except IamError as error:
            form.add_error("code_2", f"IAM did not accept the codes: {error.code}. {error.message}")
        else:
            retrievals.finish(request, retrieval_id, kind=retrievals.MFA_SEED, user_name=name)
            messages.success(request, f"MFA device {serial} assigned.")
            return clear_site_cache(redirect(security_tab_url(name)))
    uri = otpauth_uri(secret["seed"], user_name=name, account=gateway.cached_account_info())
    context = {"name": name, "form": form, "serial": serial, "seed": secret["seed"], "qr": qr.draw(uri)}
    retrievals.shown(request, retrieval_id, kind=retrievals.MFA_SEED, user_name=name)
    return render(request, "users/security/mfa_codes.html", context, status=400 if form.is_bound else 200)


def _cancel_mfa_assignment(
    request: HttpRequest, gateway: IamGateway, name: str, serial: str, retrieval_id: str
) -> HttpResponse:
    try:
        gateway.delete_virtual_mfa_device(serial)
    except NoSuchEntity:
        pass
    except IamError as error:
        report_failure(request, f"Deleting the unassigned device {serial}", error)
    retrievals.finish(request, retrieval_id, kind=retrievals.MFA_SEED, user_name=name)
    return clear_site_cache(redirect(security_tab_url(name)))


@sensitive_post_parameters("code_1", "code_2")
@require_http_methods(["GET", "POST"])
@changes_iam
def mfa_device_resync(request: HttpRequest, name: str) -> HttpResponse:
    """Resync an MFA device (?serial=…) whose clock drifted: two consecutive codes it shows now
    (ResyncMFADevice)."""
    gateway = gateway_for(request)
    device = _device_of(request, gateway, name)
    form = MfaCodesForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            gateway.resync_mfa_device(
                name, device.serial_number, form.cleaned_data["code_1"], form.cleaned_data["code_2"]
            )
        except IamError as error:
            if error.code == "InvalidAuthenticationCode":
                message = "These codes do not match the device. Enter two consecutive codes it shows now."
            else:
                message = f"IAM refused to resync the device: {error.code}. {error.message}"
            form.add_error("code_2", message)
        else:
            messages.success(request, f"MFA device {device.serial_number} resynced.")
            return redirect(security_tab_url(name))
    context = {"name": name, "device": device, "form": form}
    return render(request, "users/security/mfa_resync.html", context, status=400 if form.is_bound else 200)
