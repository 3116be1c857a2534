"""What views share: the signed-in operator and their gateway, a user read or 404, the
permission check for changes, the failure message, and the answer when the job queue is down.
Views import this, never each other."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from users import user_details
from users.iam.errors import IamError, NoSuchEntity
from users.iam.gateway import IamGateway
from users.roles import CHANGE_IAM
from users.user_details import UserDetails
from users.validators import is_valid_user_name

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# For the views that change IAM: viewers get 403.
changes_iam = permission_required(CHANGE_IAM, raise_exception=True)


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


def queue_unavailable(request: HttpRequest, *, created: bool = True) -> HttpResponse:
    """503 page for `jobs.JobQueueUnavailable`: the broker did not answer, nothing was done."""
    outcome = "nothing was created" if created else "nothing was changed"
    return render(request, "users/jobs/queue_unavailable.html", {"outcome": outcome}, status=503)
