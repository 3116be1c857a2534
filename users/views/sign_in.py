"""Signing in: the sign-in page (the local form and/or "Sign in with <IdP>"), and the two ends
of the OpenID Connect flow, mozilla-django-oidc's views fed by users/oidc/.

A failed or refused sign-in at the identity provider answers a page in the console's frame
that says why, with "Try again", and is audited; never a 500. The same two views run the
re-check of a signed-in session at the IdP (prompt=none, users/oidc/recheck.py).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.views import LoginView
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views import View
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from iamconsole.lockout import client_address
from users import audit
from users.forms.sign_in import SignInForm
from users.models import AuditEvent, OperatorIdentity
from users.oidc import provider as oidc
from users.oidc import recheck
from users.oidc.accounts import OIDC_SIGN_IN_REFUSED
from users.oidc.backend import BACKEND_PATH
from users.operator_auth import mfa as operator_mfa


class SignInView(LoginView):
    """Django's LoginView with the identity provider's button (and the form unless LOCAL_SIGN_IN is off)."""

    authentication_form = SignInForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(
            oidc_enabled=oidc.enabled(),
            oidc_provider_name=settings.OIDC_PROVIDER_NAME,
            local_sign_in=oidc.local_sign_in(),
        )
        return context


def failed(request: HttpRequest, failure: oidc.SignInFailed) -> HttpResponse:
    """The page of a refused or failed sign-in, audited with the IdP's subject when known."""
    audit.record(
        operator=None,
        action=OIDC_SIGN_IN_REFUSED,
        target=failure.username or str(failure.details.get("subject", "")),
        parameters={"reason": failure.reason, "ip": client_address(request) or "", **failure.details},
        outcome=AuditEvent.Outcome.FAILURE,
        error_code=failure.reason,
        error_message=failure.message,
    )
    context = {"reason": failure.reason, "message": failure.message, "provider_name": settings.OIDC_PROVIDER_NAME}
    response = render(request, "registration/oidc_failed.html", context, status=failure.status)
    response.refusal_audited = True  # type: ignore[attr-defined]  # users/middleware.py: no second row
    return response


class OidcStartView(OIDCAuthenticationRequestView):  # type: ignore[misc]
    """Sends the browser to the IdP's authorization endpoint, with state, nonce and PKCE challenge;
    with ?prompt=none, for a session signed in there, a re-check (users/oidc/recheck.py)."""

    rechecking = False

    get_settings = staticmethod(oidc.library_setting)

    def __init__(self, **kwargs: Any) -> None:
        View.__init__(self, **kwargs)  # the endpoint is read in get(), from discovery

    def get(self, request: HttpRequest) -> HttpResponse:
        if not oidc.enabled():
            raise Http404("Sign-in with an identity provider is not set up on this console.")
        try:
            self.OIDC_OP_AUTH_ENDPOINT = oidc.provider().authorization_endpoint
        except oidc.SignInFailed as failure:
            return failed(request, failure)
        self.OIDC_RP_CLIENT_ID = settings.OIDC_CLIENT_ID
        self.rechecking = request.GET.get("prompt") == "none" and recheck.applies(request)
        response: HttpResponse = super().get(request)
        if self.rechecking:
            recheck.expect(request, parse_qs(urlsplit(response["Location"]).query)["state"][0])
        return response

    def get_extra_params(self, request: HttpRequest) -> dict[str, Any]:
        params = dict(super().get_extra_params(request))
        if self.rechecking:
            params["prompt"] = "none"
        return params


class OidcCallbackView(OIDCAuthenticationCallbackView):  # type: ignore[misc]
    """The IdP's answer: the code exchanged and the ID token checked (users/oidc/backend.py), then
    the operator signed in; any failure is the page of `failed`. The answer to a re-check keeps
    the session, or signs the operator out unless the IdP could not be reached."""

    get_settings = staticmethod(oidc.library_setting)
    rechecking = False

    def get(self, request: HttpRequest) -> HttpResponse:
        if not oidc.enabled():
            raise Http404("Sign-in with an identity provider is not set up on this console.")
        self.rechecking = recheck.take(request)
        if self.rechecking and request.GET.get("error"):  # login_required, interaction_required …
            return recheck.sign_out(request, request.GET["error"][:64])
        try:
            response: HttpResponse = super().get(request)
        except oidc.SignInFailed as failure:
            if self.rechecking and failure.status != 503:
                return recheck.sign_out(request, failure.reason, failure=failure)
            return failed(request, failure)
        except SuspiciousOperation:  # a state this session did not start
            return failed(request, oidc.SignInFailed("state"))
        return response

    def login_failure(self) -> HttpResponse:
        """An error from the IdP (error=access_denied …), or no sign-in started in this session."""
        if self.rechecking:
            return recheck.sign_out(self.request, "refused")
        error = self.request.GET.get("error", "")
        if not error:
            return failed(self.request, oidc.SignInFailed("state"))
        reason = "access_denied" if error == "access_denied" else "idp_error"
        return failed(self.request, oidc.SignInFailed(reason, details={"error": error[:64]}))

    def login_success(self) -> HttpResponse:
        """Sign in (again, even the same operator: a new session key, audited, a new start for the
        session's absolute lifetime), and mark the OTP step passed when the IdP did MFA. A
        re-check's answer for the session's own operator keeps the session (its key, the secrets
        bound to it, its OTP step) as it is: only the role was read again (users/oidc/accounts.py)."""
        if self.rechecking:
            if self.user.pk != self.request.user.pk:
                other = OperatorIdentity.objects.filter(user=self.user).values_list("subject", flat=True).first()
                return recheck.sign_out(self.request, "other_subject", details={"subject": other or ""})
            recheck.confirmed(self.request)
            return HttpResponseRedirect(self.success_url)
        auth.login(self.request, self.user, backend=BACKEND_PATH)
        recheck.confirmed(self.request)
        if getattr(self.user, "mfa_at_idp", False):
            self.request.session[operator_mfa.IDP_MFA] = self.user.pk
        else:
            self.request.session.pop(operator_mfa.IDP_MFA, None)
        return HttpResponseRedirect(self.success_url)
