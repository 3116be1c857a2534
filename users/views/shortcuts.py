"""What views share: the signed-in operator and their gateway, a user read or 404, the
permission check for changes, the failure message, the answer when the job queue is down, and
a one-time secret read (or 404/410) and the headers of the answers that end one, the download
of a `~/.aws/credentials` snippet, and the Create group dialog of wizard step 2 and of Add
permissions.
Views import this, never each other."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import wraps
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.cache import never_cache

from users import credentials, retrievals, roles, user_details
from users.forms.groups import NEW_GROUP_PREFIX, NewGroupForm
from users.iam.errors import EntityAlreadyExists, IamError, NoSuchEntity
from users.iam.gateway import IamGateway
from users.user_details import UserDetails
from users.validators import is_valid_user_name

if TYPE_CHECKING:
    from django.contrib.auth.models import User

_View = TypeVar("_View", bound=Callable[..., HttpResponseBase])
_Named = TypeVar("_Named", bound="_HasName")
ACCESS_KEY_ID_RE = re.compile(r"(AKIA|ASIA)[A-Z0-9]{12,124}")


def changes_iam(view: _View) -> _View:
    """For the views that change IAM: 403 to viewers, and to everyone when IAM_READ_ONLY."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not roles.can_change_iam(request.user):
            raise PermissionDenied("This change is not allowed: a viewer, or a read-only console.")
        return view(request, *args, **kwargs)

    return cast("_View", wrapped)


# For managing the console's own operators (their MFA): operators, even when IAM is read-only.
manages_operators = permission_required(roles.CHANGE_IAM, raise_exception=True)


def operator_for(request: HttpRequest) -> User:
    """The signed-in operator. LoginRequiredMiddleware lets no anonymous request reach a view
    (other than a `login_not_required` one), so `request.user` is a `User` here."""
    return cast("User", request.user)


def gateway_for(request: HttpRequest) -> IamGateway:
    """The gateway, auditing under the signed-in operator."""
    return IamGateway.from_settings(operator=operator_for(request))


def read_user(gateway: IamGateway, name: str) -> UserDetails:
    """The user's details, or 404 (a name IAM could not hold is not sent to IAM at all)."""
    if not is_valid_user_name(name):
        raise Http404(f"No IAM user named {name}")
    try:
        return user_details.read_details(gateway, name)
    except NoSuchEntity:
        raise Http404(f"No IAM user named {name}") from None


def security_tab_url(name: str) -> str:
    """The user's Security credentials tab, where every credential action returns."""
    return reverse("users:detail", args=[name]) + "?section=security_credentials"


def report_failure(request: HttpRequest, doing: str, error: IamError) -> None:
    """A message saying what failed, with IAM's error."""
    messages.error(request, f"{doing} failed: {error.code}. {error.message}")


def bad_request(request: HttpRequest, message: str, errors: object = None) -> HttpResponse:
    """400 in the console's frame: `message`, a sentence saying what was wrong, and the
    form's `errors` if any."""
    return render(request, "400.html", {"message": message, "errors": errors}, status=400)


def queue_unavailable(request: HttpRequest, *, created: bool = True) -> HttpResponse:
    """503 page for `jobs.JobQueueUnavailable`: the broker did not answer, nothing was done."""
    outcome = "nothing was created" if created else "nothing was changed"
    return render(request, "users/jobs/queue_unavailable.html", {"outcome": outcome}, status=503)


def read_secret(
    request: HttpRequest, name: str, kind: str, retrieval_id: str, *, action: str | None = None
) -> dict[str, str] | HttpResponse:
    """A one-time secret this session made for user `name` (`action` audited, see
    users/retrievals.py); the 410 page once it is done or expired; 404 to any other session."""
    try:
        return retrievals.read(request, retrieval_id, kind=kind, user_name=name, action=action)
    except credentials.NotYours:
        raise Http404("No such secret") from None
    except credentials.CredentialsGone:
        return render(request, "users/security/gone.html", {"name": name}, status=410)


def make_attachment(response: HttpResponseBase, filename: str) -> None:
    """Make `response` a file to save as `filename` (SecurityMiddleware adds nosniff to every answer)."""
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)


def credentials_file_response(text: str, *, filename: str) -> HttpResponse:
    """A `~/.aws/credentials` snippet (users/exports.py) as a download. The view is
    `never_cache` and POST-only, as every answer holding a secret is kept out of caches and
    history."""
    response = HttpResponse(text.encode(), content_type="text/plain; charset=utf-8")
    make_attachment(response, filename)
    return response


def clear_site_cache(response: HttpResponse) -> HttpResponse:
    """Ask the browser to drop what it cached of the pages that showed a secret (Done, Cancel,
    sign-out: RELIABILITY.md S5)."""
    response["Clear-Site-Data"] = '"cache"'
    return response


def ends_secrets(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """For a view whose answer ends secrets (sign-out): `Cache-Control: no-store` and
    `Clear-Site-Data: "cache"`."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return clear_site_cache(view(request, *args, **kwargs))

    return never_cache(wrapped)


def create_group_from_dialog(request: HttpRequest, gateway: IamGateway) -> tuple[NewGroupForm, str | None]:
    """The Create group dialog, posted: CreateGroup, then AttachGroupPolicy for each chosen
    policy. Returns the dialog to show again (empty once the group exists) and the new group's
    name, or None with the errors on the dialog. A policy IAM then refuses is reported and
    left out; the group stays, so the page selects it all the same."""
    policies = gateway.attachable_policy_index()
    existing = [group.name for group in gateway.group_index(fresh=True)]
    dialog = NewGroupForm(request.POST, prefix=NEW_GROUP_PREFIX, existing_groups=existing, policies=policies)
    if not dialog.is_valid():
        return dialog, None
    name = dialog.cleaned_data["name"]
    try:
        gateway.create_group(name)
    except EntityAlreadyExists:
        dialog.add_error("name", NewGroupForm.DUPLICATE_MESSAGE)
        return dialog, None
    except IamError as error:
        dialog.add_error(None, f"IAM refused to create the group: {error.code} ({error.message}). Nothing was created.")
        return dialog, None
    messages.success(request, f"User group {name} created.")
    names = {policy.arn: policy.name for policy in policies}
    for arn in dialog.cleaned_data["policies"]:
        try:
            gateway.attach_group_policy(name, arn)
        except IamError as error:
            refused = f"IAM answered {error.code} ({error.message})"
            messages.error(request, f"Policy {names[arn]} was not attached to {name}: {refused}.")
    return NewGroupForm(prefix=NEW_GROUP_PREFIX, existing_groups=(), policies=policies), name


class _HasName(Protocol):
    @property
    def name(self) -> str: ...


def search_users(gateway: IamGateway, users: Sequence[_Named], query: str) -> list[_Named]:
    """The users list's search (and Export users'): the users whose name contains the query,
    regardless of case, or the owner of the access key it names; all of them for no query."""
    if not query:
        return list(users)
    if ACCESS_KEY_ID_RE.fullmatch(query):
        owner = gateway.find_user_by_access_key(query)
        return [user for user in users if user.name == owner]
    needle = query.casefold()
    return [user for user in users if needle in user.name.casefold()]
