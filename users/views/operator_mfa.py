"""Operator MFA: enrol an authenticator app, the OTP step after sign-in, and resetting another
operator's devices. The rules (devices, codes, throttling) are in users/operator_auth/mfa.py."""

from __future__ import annotations

import django_otp
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from users import audit
from users.forms.operator_mfa import EnrolForm, VerifyForm
from users.operator_auth import mfa as operator_mfa
from users.views.shortcuts import manages_operators, operator_for


def _next_url(request: HttpRequest) -> str:
    """Where to go after the OTP step: `next` if it stays on this site, else the Users list."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _refuse(form: VerifyForm | EnrolForm, wait: int) -> None:
    """Say why the code was refused: the throttle still running, or a wrong code."""
    if wait:
        form.add_error("code", f"Too many wrong codes. Try again in {wait} seconds.")
    else:
        form.add_error("code", "That code is not valid. Check the time on your device and try again.")


def _passed(request: HttpRequest, device: object) -> None:
    """Mark the session as having passed the OTP step, under a new session key."""
    request.session.cycle_key()
    django_otp.login(request, device)


def mfa_status(request: HttpRequest) -> HttpResponse:
    operator = operator_for(request)
    return render(request, "operator_mfa/status.html", {"enrolled": operator_mfa.has_device(operator)})


@never_cache
@require_http_methods(["GET", "POST"])
def mfa_enrol(request: HttpRequest) -> HttpResponse:
    operator = operator_for(request)
    if operator_mfa.has_device(operator):
        messages.info(request, "MFA is already set up for your account.")
        return redirect("users:mfa_status")
    device = operator_mfa.pending_device(operator)
    form = EnrolForm(request.POST or None)
    if form.is_valid():
        attempt = operator_mfa.confirm_enrolment(operator, device, form.cleaned_data["code"])
        if attempt.device is not None:
            codes = operator_mfa.new_recovery_codes(operator)
            _passed(request, attempt.device)
            audit.record(
                operator=operator, action="EnrolOperatorMfa", target=operator.username, parameters={}, outcome="success"
            )
            return render(request, "operator_mfa/recovery_codes.html", {"codes": codes, "next": _next_url(request)})
        audit.record(
            operator=operator, action="EnrolOperatorMfa", target=operator.username, parameters={}, outcome="failure"
        )
        _refuse(form, attempt.wait)
    context: dict[str, object] = {
        "form": form,
        "qr": operator_mfa.qr_code(device),
        "secret": operator_mfa.secret_text(device),
        "mfa_required": settings.OPERATOR_MFA == "required",
        "next": request.POST.get("next") or request.GET.get("next", ""),
    }
    return render(request, "operator_mfa/enrol.html", context)


@never_cache
@require_http_methods(["GET", "POST"])
def mfa_verify(request: HttpRequest) -> HttpResponse:
    operator = operator_for(request)
    step = operator_mfa.pending_step(request)
    if step != "verify":
        return redirect("users:mfa_enrol" if step == "enrol" else _next_url(request))
    form = VerifyForm(request.POST or None)
    if form.is_valid():
        attempt = operator_mfa.verify(operator, form.cleaned_data["code"])
        if attempt.device is not None:
            _passed(request, attempt.device)
            return redirect(_next_url(request))
        audit.record(
            operator=operator, action="VerifyOperatorMfa", target=operator.username, parameters={}, outcome="failure"
        )
        _refuse(form, attempt.wait)
    next_url = request.POST.get("next") or request.GET.get("next", "")
    return render(request, "operator_mfa/verify.html", {"form": form, "next": next_url})


@manages_operators
def mfa_operators(request: HttpRequest) -> HttpResponse:
    enrolled = operator_mfa.enrolled_user_ids()
    rows = [(user, user.pk in enrolled) for user in User.objects.filter(is_active=True).order_by("username")]
    return render(request, "operator_mfa/operators.html", {"rows": rows, "me": operator_for(request)})


@require_POST
@manages_operators
def mfa_reset(request: HttpRequest, user_id: int) -> HttpResponse:
    operator = operator_for(request)
    target = get_object_or_404(User, pk=user_id)
    if target.pk == operator.pk:
        messages.error(request, "You cannot reset your own MFA device; ask another operator.")
        return redirect("users:mfa_operators")
    operator_mfa.remove_devices(target)
    audit.record(operator=operator, action="ResetOperatorMfa", target=target.username, parameters={}, outcome="success")
    messages.success(request, f"MFA reset for {target.username}: their authenticator and recovery codes are removed.")
    return redirect("users:mfa_operators")
