"""The Security credentials tab's MFA devices (FEATURES.md §4F): assign a virtual device (its
seed shown once, then two consecutive codes), and remove a device."""

from __future__ import annotations

import base64

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_http_methods

from users import credentials, retrievals
from users.forms.mfa import MAX_MFA_DEVICES_PER_USER, MfaCodesForm, MfaDeviceNameForm
from users.iam.errors import EntityAlreadyExists, IamError, NoSuchEntity
from users.iam.gateway import IamGateway
from users.views.shortcuts import (
    changes_iam,
    clear_site_cache,
    gateway_for,
    read_secret,
    read_user,
    report_failure,
    security_tab_url,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@require_http_methods(["GET", "POST"])
@changes_iam
def mfa_device_remove(request: HttpRequest, name: str) -> HttpResponse:
    """Remove an MFA device (?serial=…): unassign it, and delete it if it is a virtual one."""
    gateway = gateway_for(request)
    details = read_user(gateway, name)
    serial = (request.POST if request.method == "POST" else request.GET).get("serial", "")
    device = next((device for device in details.mfa_devices if device.serial_number == serial), None)
    if device is None:
        raise Http404(f"{name} has no such MFA device")
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
                secret={
                    "serial_number": device.serial_number,
                    "seed": device.seed,
                    "qr_code_png": base64.b64encode(device.qr_code_png).decode("ascii"),
                },
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
    png = base64.b64decode(secret["qr_code_png"])
    context = {
        "name": name,
        "form": form,
        "serial": serial,
        "seed": secret["seed"],
        # moto answers random bytes where IAM gives a PNG: show the secret key only then.
        "qr_code": secret["qr_code_png"] if png.startswith(PNG_SIGNATURE) else None,
    }
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
