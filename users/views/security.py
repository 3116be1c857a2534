"""The Security credentials tab's actions (FEATURES.md §4F): access keys (the Create access key
wizard, activate, deactivate, delete, rotate), console access, SSH public keys, signing
certificates, service-specific credentials, and the one-time page that shows a new secret
(users/retrievals.py). MFA devices are in users/views/mfa.py."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST
from formtools.wizard.views import SessionWizardView

from iamconsole import cache_outage
from users import credentials, retrievals
from users.exports import (
    CredentialRow,
    aws_credentials_file,
    credentials_csv,
    service_credential_csv,
    sign_in_email_link,
)
from users.forms.security import (
    USE_CASES,
    AccessKeyDescriptionForm,
    AccessKeyUseCaseForm,
    ConsoleAccessForm,
    SshPublicKeyForm,
)
from users.iam.errors import IamError, IamUnavailable, InvalidPublicKey, LimitExceeded, NoSuchEntity, ServiceFailure
from users.iam.gateway import IamGateway
from users.iam.types import SshPublicKey
from users.passwords import generate_password
from users.provisioning import CHANGE_PASSWORD_POLICY_ARN, needs_change_password_policy
from users.ssh_keys import DUPLICATE_MESSAGE, MAX_SSH_KEYS_PER_USER, is_duplicate
from users.views.shortcuts import (
    changes_iam,
    clear_site_cache,
    credentials_file_response,
    gateway_for,
    make_attachment,
    read_secret,
    read_user,
    report_failure,
    security_tab_url,
)

MAX_ACCESS_KEYS = 2
ACCESS_KEY_ID_RE = re.compile(r"[A-Z0-9]{16,128}")
CredentialStatus = Literal["Active", "Inactive"]
STATUSES: dict[CredentialStatus, str] = {"Active": "activated", "Inactive": "deactivated"}


# --- Access keys -----------------------------------------------------------------------------


@method_decorator([changes_iam, never_cache], name="dispatch")
class CreateAccessKeyWizard(SessionWizardView):  # type: ignore[misc]  # formtools has no type information
    """Create access key: use case → description tag → the key, shown once (retrieve page)."""

    request: HttpRequest

    form_list = [("use_case", AccessKeyUseCaseForm), ("description", AccessKeyDescriptionForm)]
    template_name = "users/security/create_access_key.html"

    def get_prefix(self, request: HttpRequest, *args: Any, **kwargs: Any) -> str:
        return f"create_access_key:{kwargs['name']}"  # one wizard per user, side by side

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.gateway = gateway_for(request)
        self.details = read_user(self.gateway, kwargs["name"])
        if len(self.details.keys) >= MAX_ACCESS_KEYS:
            messages.error(request, "This user already has 2 access keys, the most IAM allows: delete one first.")
            return redirect(security_tab_url(kwargs["name"]))
        response: HttpResponse = super().dispatch(request, *args, **kwargs)
        return response

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response: HttpResponse = super().get(request, *args, **kwargs)  # resets the wizard's storage
        rotating = request.GET.get("rotate", "")
        if rotating in self.details.key_ids:  # the key a rotation replaces, for its next steps
            self.storage.extra_data = {"rotate": rotating}
        return response

    def get_form_kwargs(self, step: str | None = None) -> dict[str, Any]:
        return {"tag_count": len(self.details.user.tags)} if step == "description" else {}

    def get_context_data(self, form: Any, **kwargs: Any) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context_data(form=form, **kwargs)
        context.update(iam_user=self.details.user, use_cases=USE_CASES)
        return context

    def _discard_unkept_key(self, name: str, key_id: str) -> None:
        """A key whose secret the store could not keep is of no use to anyone: delete it (audited)."""
        try:
            self.gateway.delete_access_key(name, key_id)
        except IamError as error:
            messages.error(
                self.request,
                f"Access key {key_id} was created, but the one-time secret store is not available: its secret "
                f"could not be kept, and deleting the key failed ({error.code}). Delete it, then create a new one.",
            )
            return
        messages.error(
            self.request,
            "The one-time secret store is not available: the new access key's secret could not be kept, "
            f"so the key ({key_id}) was deleted again. Create one once the store is back.",
        )

    def done(self, form_list: Any, **kwargs: Any) -> HttpResponse:
        name = self.details.user.name
        description = self.get_cleaned_data_for_step("description")["description"]
        credentials.check_available()
        try:
            key = self.gateway.create_access_key(name)
        except (IamUnavailable, ServiceFailure) as error:  # it may have run: never resent blindly
            messages.error(
                self.request,
                f"IAM did not answer clearly ({error.code}): the key may have been created. Check the access "
                "keys below: delete a key whose secret you do not have, then create a new one.",
            )
            return redirect(security_tab_url(name))
        except IamError as error:
            report_failure(self.request, "Create access key", error)
            return redirect(security_tab_url(name))
        try:
            retrieval = retrievals.keep(
                self.request,
                user_name=name,
                kind=retrievals.ACCESS_KEY,
                secret={
                    "access_key_id": key.access_key_id,
                    "secret_access_key": key.secret_access_key,
                    "rotating": self.storage.extra_data.get("rotate", ""),
                },
            )
        except cache_outage.UNAVAILABLE as error:  # Redis went away since check_available
            cache_outage.record_outage(error)
            self._discard_unkept_key(name, key.access_key_id)
            return redirect(security_tab_url(name))
        if description:
            try:
                self.gateway.tag_user(name, {key.access_key_id: description})
            except IamError as error:
                report_failure(self.request, "Setting the description tag", error)
        return redirect("users:retrieve", name=name, kind=retrievals.ACCESS_KEY, retrieval_id=retrieval)


@require_http_methods(["GET", "POST"])
@changes_iam
def access_key_delete(request: HttpRequest, name: str, key_id: str) -> HttpResponse:
    """Delete an inactive key (the console makes you deactivate it first), confirmed by typing
    its id; its description tag goes with it."""
    gateway = gateway_for(request)
    details = read_user(gateway, name)
    key = _credential_of(KINDS["access-key"], gateway, name, key_id)
    if key.status == "Active":
        messages.error(request, f"Deactivate access key {key_id} before you delete it.")
        return redirect(security_tab_url(name))
    typed = request.POST.get("confirmation", "").strip()
    error = None
    if request.method == "POST":
        if typed == key_id:
            try:
                gateway.delete_access_key(name, key_id)
                if key_id in dict(details.user.tags):
                    gateway.untag_user(name, [key_id])
            except NoSuchEntity:
                pass  # deleted meanwhile
            except IamError as failure:
                report_failure(request, "Delete access key", failure)
                return redirect(security_tab_url(name))
            messages.success(request, f"Access key {key_id} deleted.")
            if request.POST.get("rotation"):
                return redirect("users:access_key_rotate", name=name, key_id=key_id)
            return redirect(security_tab_url(name))
        error = f"Enter {key_id} to confirm."
    context = {
        "iam_user": details.user,
        "key_id": key_id,
        "typed": typed,
        "error": error,
        "rotation": bool(request.GET.get("rotation") or request.POST.get("rotation")),
    }
    return render(request, "users/security/delete_access_key.html", context, status=400 if error else 200)


def access_key_rotate(request: HttpRequest, name: str, key_id: str) -> HttpResponse:
    """Rotate an access key, step by step, each step read from IAM: create a new key (shown
    once), move the applications to it, deactivate the old key, delete it."""
    gateway = gateway_for(request)
    details = read_user(gateway, name)
    old = next((info for info in details.keys if info.key.access_key_id == key_id), None)
    newer = [info for info in details.keys if old is None or info.key.created > old.key.created]
    context = {
        "iam_user": details.user,
        "key_id": key_id,
        "old": old,
        "new": newer[0] if newer and old is not None else None,
        "room": len(details.keys) < MAX_ACCESS_KEYS,
    }
    return render(request, "users/security/rotate_access_key.html", context)


# --- Console access --------------------------------------------------------------------------


@sensitive_post_parameters("custom_password")
@require_http_methods(["GET", "POST"])
@changes_iam
@never_cache
def console_access(request: HttpRequest, name: str) -> HttpResponse:
    """Enable or manage console access: create or reset the password (shown once), keep it,
    require a reset (with the IAMUserChangePassword rule of the Add user wizard), or disable it."""
    gateway = gateway_for(request)
    details = read_user(gateway, name)
    policy = gateway.get_password_policy()
    enabled = details.login_profile is not None
    form = ConsoleAccessForm(request.POST or None, password_policy=policy, login_profile=details.login_profile)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if data["console_access"] == "disable":
            return _disable_console(request, gateway, name)
        if data["password_type"] == "keep":
            return _keep_password(request, gateway, details, reset=data["reset_required"], policy=policy)
        password = data["custom_password"] if data["password_type"] == "custom" else generate_password(policy)
        return _set_password(request, gateway, details, password, reset=data["reset_required"], policy=policy)
    context = {"iam_user": details.user, "form": form, "enabled": enabled}
    return render(request, "users/security/console_access.html", context, status=400 if form.is_bound else 200)


def _disable_console(request: HttpRequest, gateway: IamGateway, name: str) -> HttpResponse:
    try:
        gateway.delete_login_profile(name)
    except NoSuchEntity:
        pass
    except IamError as error:
        report_failure(request, "Disable console access", error)
        return redirect(security_tab_url(name))
    messages.success(request, "Console access disabled.")
    return redirect(security_tab_url(name))


@sensitive_variables("password")
def _set_password(
    request: HttpRequest, gateway: IamGateway, details: Any, password: str, *, reset: bool, policy: Any
) -> HttpResponse:
    name = details.user.name
    # Kept first, so that a failure after IAM took the password never loses it (RELIABILITY.md §2.5).
    retrieval = retrievals.keep(
        request, user_name=name, kind=retrievals.PASSWORD, secret={"password": password, "reset": "1" if reset else ""}
    )
    try:
        if details.login_profile is None:
            gateway.create_login_profile(name, password, reset_required=reset)
        else:
            gateway.update_login_profile(name, password=password, reset_required=reset)
    except IamError as error:
        retrievals.withdraw(request, retrieval)
        report_failure(request, "Setting the console password", error)
        return redirect(security_tab_url(name))
    _let_change_password(request, gateway, name, reset=reset, policy=policy)
    messages.success(request, "Console access enabled." if details.login_profile is None else "Console password reset.")
    return redirect("users:retrieve", name=name, kind=retrievals.PASSWORD, retrieval_id=retrieval)


def _keep_password(
    request: HttpRequest, gateway: IamGateway, details: Any, *, reset: bool, policy: Any
) -> HttpResponse:
    """Apply with "Keep the existing password": the reset flag alone, if it changed
    (UpdateLoginProfile without Password); no new password, nothing shown."""
    name = details.user.name
    if details.login_profile.password_reset_required == reset:
        messages.info(request, "Nothing changed: the user keeps the existing password.")
        return redirect(security_tab_url(name))
    try:
        gateway.update_login_profile(name, reset_required=reset)
    except IamError as error:
        report_failure(request, "Changing the password reset requirement", error)
        return redirect(security_tab_url(name))
    _let_change_password(request, gateway, name, reset=reset, policy=policy)
    done = "must create a new password at next sign-in" if reset else "no longer has to create a new password"
    messages.success(request, f"The user keeps the existing password and {done}.")
    return redirect(security_tab_url(name))


def _let_change_password(request: HttpRequest, gateway: IamGateway, name: str, *, reset: bool, policy: Any) -> None:
    """IAMUserChangePassword when a reset is required and the account policy does not let
    users change their password (the Add user wizard's rule)."""
    if needs_change_password_policy(console_access=True, reset_required=reset, policy=policy):
        try:
            gateway.attach_user_policy(name, CHANGE_PASSWORD_POLICY_ARN)
        except IamError as error:
            report_failure(request, "Attaching IAMUserChangePassword", error)


# --- The one-time page of a new secret -------------------------------------------------------


# An MFA seed has its own page. A service-specific credential's password comes from
# users/views/service_credentials.py.
SHOWN_ONCE = (retrievals.ACCESS_KEY, retrievals.PASSWORD, retrievals.SERVICE_CREDENTIAL)


@never_cache
def retrieve(request: HttpRequest, name: str, kind: str, retrieval_id: str) -> HttpResponse:
    if kind not in SHOWN_ONCE:
        raise Http404("Nothing to retrieve here")
    secret = read_secret(request, name, kind, retrieval_id, action=retrievals.SHOW)
    if isinstance(secret, HttpResponse):
        return secret
    account = gateway_for(request).cached_account_info()
    context: dict[str, Any] = {"name": name, "kind": kind, "secret": secret, "retrieval_id": retrieval_id}
    if kind == retrievals.PASSWORD:
        context["email_link"] = sign_in_email_link(
            account_id=account.account_id,
            sign_in_url=account.sign_in_url,
            user_name=name,
            reset_required=bool(secret.get("reset")),
        )
    return render(request, "users/security/retrieve.html", context)


@never_cache
def retrieve_csv(request: HttpRequest, name: str, kind: str, retrieval_id: str) -> HttpResponse | StreamingHttpResponse:
    """The new secret as our credentials CSV (with the User name column, so that `aws
    configure import` reads it: FEATURES.md §2F); a service-specific credential's as the IAM
    console's Download credentials file (User Name, Password)."""
    if kind not in SHOWN_ONCE:
        raise Http404("Nothing to retrieve here")
    secret = read_secret(request, name, kind, retrieval_id, action=retrievals.DOWNLOAD_CSV)
    if isinstance(secret, HttpResponse):
        return secret
    if kind == retrievals.SERVICE_CREDENTIAL:
        lines = service_credential_csv(secret["service_user_name"], secret["service_password"])
        suffix = f"{secret['service']}_credentials"
    else:
        row = CredentialRow(
            user_name=name,
            password=secret.get("password"),
            access_key_id=secret.get("access_key_id"),
            secret_access_key=secret.get("secret_access_key"),
        )
        lines = credentials_csv([row], gateway_for(request).cached_account_info().sign_in_url)
        suffix = "accessKeys" if kind == retrievals.ACCESS_KEY else "credentials"
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    make_attachment(response, f"{name}_{suffix}.csv")
    return response


@require_POST
@never_cache
@sensitive_variables("secret", "text")
def retrieve_credentials_file(request: HttpRequest, name: str, kind: str, retrieval_id: str) -> HttpResponse:
    """A new access key as a `~/.aws/credentials` profile named after the user: the .csv's
    rules (this session's, 404 to any other, 410 once done or expired, audited), by POST."""
    if kind != retrievals.ACCESS_KEY:
        raise Http404("Only an access key makes a credentials file")
    account_id = gateway_for(request).cached_account_info().account_id  # before the download is audited
    secret = read_secret(request, name, kind, retrieval_id, action=retrievals.DOWNLOAD_CREDENTIALS_FILE)
    if isinstance(secret, HttpResponse):
        return secret
    row = CredentialRow(
        user_name=name, access_key_id=secret["access_key_id"], secret_access_key=secret["secret_access_key"]
    )
    text = aws_credentials_file([row], account_id=account_id)
    return credentials_file_response(text, filename=f"{name}_aws-credentials.ini")


@require_POST
@never_cache
def retrieve_done(request: HttpRequest, name: str, kind: str, retrieval_id: str) -> HttpResponse:
    """Done: the secret is deleted (audited); back to the tab, or to the rotation this key is
    part of. Only the session that made the secret may end it: any other gets 404."""
    if kind not in SHOWN_ONCE:
        raise Http404("Nothing to retrieve here")
    try:
        retrievals.finish(request, retrieval_id, kind=kind, user_name=name)
    except credentials.NotYours:
        raise Http404("No such secret") from None
    rotating = request.POST.get("rotation", "")
    if ACCESS_KEY_ID_RE.fullmatch(rotating):
        return clear_site_cache(redirect("users:access_key_rotate", name=name, key_id=rotating))
    return clear_site_cache(redirect(security_tab_url(name)))


# --- SSH public keys -------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@changes_iam
def ssh_key_upload(request: HttpRequest, name: str) -> HttpResponse:
    gateway = gateway_for(request)
    details = read_user(gateway, name)
    form = SshPublicKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        keys = gateway.list_ssh_public_keys(name)
        if len(keys) >= MAX_SSH_KEYS_PER_USER:
            form.add_error(
                "body", f"This user already has {MAX_SSH_KEYS_PER_USER} SSH public keys, the most IAM allows."
            )
        elif is_duplicate(form.cleaned_data["body"], _ssh_key_bodies(gateway, name, keys)):
            form.add_error("body", DUPLICATE_MESSAGE)  # IAM would answer DuplicateSSHPublicKey
        else:
            try:
                key = gateway.upload_ssh_public_key(name, form.cleaned_data["body"])
            except (InvalidPublicKey, LimitExceeded) as error:
                form.add_error("body", f"IAM refused the key: {error.code}. {error.message}")
            else:
                messages.success(request, f"SSH public key {key.key_id} uploaded.")
                return redirect(security_tab_url(name))
    context = {"iam_user": details.user, "form": form}
    return render(request, "users/security/ssh_key_upload.html", context, status=400 if form.is_bound else 200)


def _ssh_key_bodies(gateway: IamGateway, name: str, keys: list[SshPublicKey]) -> Iterator[str]:
    """The bodies of the user's keys, but for one deleted meanwhile."""
    for key in keys:
        try:
            yield gateway.get_ssh_public_key_body(name, key.key_id)
        except NoSuchEntity:
            continue


def ssh_key_show(request: HttpRequest, name: str, key_id: str) -> HttpResponse:
    gateway = gateway_for(request)
    _credential_of(KINDS["ssh-key"], gateway, name, key_id)
    body = gateway.get_ssh_public_key_body(name, key_id)
    return render(request, "users/security/ssh_key_show.html", {"name": name, "key_id": key_id, "body": body})


# --- Status and deletion, for each kind of credential ----------------------------------------


@dataclass(frozen=True, slots=True)
class CredentialKind:
    """How to find, (de)activate and delete one kind of a user's credentials."""

    label: str  # as the messages name it: "Access key AKIA…"
    items: Callable[[IamGateway, str], list[Any]]
    item_id: Callable[[Any], str]
    update: Callable[[IamGateway, str, str, CredentialStatus], None]
    delete: Callable[[IamGateway, str, str], None] | None = None  # None: a view of its own


KINDS = {
    "access-key": CredentialKind(
        "Access key",
        IamGateway.list_access_keys,
        lambda key: key.access_key_id,
        IamGateway.update_access_key,
    ),
    "ssh-key": CredentialKind(
        "SSH public key",
        IamGateway.list_ssh_public_keys,
        lambda key: key.key_id,
        IamGateway.update_ssh_public_key,
        IamGateway.delete_ssh_public_key,
    ),
    "certificate": CredentialKind(
        "Signing certificate",
        IamGateway.list_signing_certificates,
        lambda cert: cert.certificate_id,
        IamGateway.update_signing_certificate,
        IamGateway.delete_signing_certificate,
    ),
    "service-credential": CredentialKind(
        "Service-specific credential",
        IamGateway.list_service_specific_credentials,
        lambda credential: credential.credential_id,
        IamGateway.update_service_specific_credential,
        IamGateway.delete_service_specific_credential,
    ),
}


def _kind(kind: str) -> CredentialKind:
    try:
        return KINDS[kind]
    except KeyError:
        raise Http404("Unknown kind of credential") from None


def _credential_of(kind: CredentialKind, gateway: IamGateway, name: str, credential_id: str) -> Any:
    """The user's credential with this id, or 404 (another user's is not found here)."""
    try:
        items = kind.items(gateway, name)
    except NoSuchEntity:
        raise Http404(f"No IAM user named {name}") from None
    found = next((item for item in items if kind.item_id(item) == credential_id), None)
    if found is None:
        raise Http404(f"{name} has no such credential")
    return found


@require_POST
@changes_iam
def credential_status(request: HttpRequest, name: str, kind: str, credential_id: str) -> HttpResponse:
    """Activate or deactivate an access key, SSH public key, signing certificate or
    service-specific credential."""
    status = request.POST.get("status", "")
    if status not in STATUSES:
        raise Http404("Unknown status")
    credential_kind = _kind(kind)
    gateway = gateway_for(request)
    _credential_of(credential_kind, gateway, name, credential_id)
    label = f"{credential_kind.label} {credential_id}"
    try:
        credential_kind.update(gateway, name, credential_id, status)
    except IamError as error:
        report_failure(request, f"Changing the status of {label}", error)
    else:
        messages.success(request, f"{label} {STATUSES[status]}.")
    if kind == "access-key" and request.POST.get("rotation"):
        return redirect("users:access_key_rotate", name=name, key_id=credential_id)
    return redirect(security_tab_url(name))


@require_http_methods(["GET", "POST"])
@changes_iam
def credential_delete(request: HttpRequest, name: str, kind: str, credential_id: str) -> HttpResponse:
    """Delete an SSH public key, a signing certificate or a service-specific credential, after a
    confirmation page."""
    credential_kind = _kind(kind)
    if credential_kind.delete is None:
        raise Http404("Deleted elsewhere")
    gateway = gateway_for(request)
    _credential_of(credential_kind, gateway, name, credential_id)
    label = f"{credential_kind.label} {credential_id}"
    if request.method == "POST":
        try:
            credential_kind.delete(gateway, name, credential_id)
        except NoSuchEntity:
            pass
        except IamError as error:
            report_failure(request, f"Deleting {label}", error)
            return redirect(security_tab_url(name))
        messages.success(request, f"{label} deleted.")
        return redirect(security_tab_url(name))
    return render(request, "users/security/delete_credential.html", {"name": name, "label": label})
