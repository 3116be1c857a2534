"""The User groups pages: the list, Create group, a group's details (its users and its
permissions, each with Add and Remove) and Delete."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from users.forms.groups import (
    MAX_MANAGED_POLICIES_PER_GROUP,
    NO_GROUPS_SELECTED_MESSAGE,
    AddPoliciesForm,
    AddUsersForm,
    DeleteGroupsForm,
    ListSearchForm,
    NewGroupForm,
    RemovePoliciesForm,
    RemoveUsersForm,
    selected_group_names,
)
from users.group_deletion import delete_group
from users.iam.errors import EntityAlreadyExists, IamError, NoSuchEntity
from users.iam.gateway import IamGateway
from users.iam.types import Group, IamUser, Policy
from users.validators import GROUP_NAME_RE
from users.views.shortcuts import bad_request, changes_iam, gateway_for

DUPLICATE_GROUP_MESSAGE = "A group with this name already exists. Group names are not case sensitive."
# One change for `_apply`: what it changes (a user or policy name), and the IAM call.
_Step = tuple[str, Callable[[], object]]


def _group_or_404(gateway: IamGateway, name: str) -> tuple[Group, list[IamUser]]:
    if not GROUP_NAME_RE.fullmatch(name):
        raise Http404("That is not a user group name.")
    try:
        return gateway.get_group(name)
    except NoSuchEntity:
        raise Http404(f"No user group named {name}") from None


def _apply(request: HttpRequest, steps: Sequence[_Step], *, done: str, failed: str, gone_is_done: bool = False) -> None:
    """Run each (label, call) in order until one fails, then say what was done and what was
    not. `gone_is_done`: for removals, NoSuchEntity means someone else removed it already."""
    succeeded: list[str] = []
    for index, (label, call) in enumerate(steps):
        try:
            call()
        except IamError as error:
            if not (gone_is_done and isinstance(error, NoSuchEntity)):
                if succeeded:
                    messages.success(request, f"{done}: {', '.join(succeeded)}.")
                rest = [label for label, _ in steps[index + 1 :]]
                not_tried = f" Not tried: {', '.join(rest)}." if rest else ""
                messages.error(request, f"{failed} {label}: IAM answered {error.code} ({error.message}).{not_tried}")
                return
        succeeded.append(label)
    messages.success(request, f"{done}: {', '.join(succeeded)}.")


def _attach_steps(gateway: IamGateway, group: str, arns: list[str], policies: list[Policy]) -> list[_Step]:
    names = {policy.arn: policy.name for policy in policies}
    return [(names[arn], partial(gateway.attach_group_policy, group, arn)) for arn in arns]


def group_list(request: HttpRequest) -> HttpResponse:
    form = ListSearchForm(request.GET)
    query, per_page = "", 25
    if form.is_valid():
        query, per_page = form.cleaned_data["q"], form.cleaned_data["per_page"]
    gateway = gateway_for(request)
    fresh = "refresh" in request.GET
    groups = gateway.group_index(fresh=fresh)
    # Members come from the users' GroupList: two index reads, whatever the number of groups.
    members = Counter(group for user in gateway.user_index(fresh=fresh) for group in user.groups)
    matches = [group for group in groups if query.casefold() in group.name.casefold()]
    page = Paginator(matches, per_page).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "query": query,
        "per_page": per_page,
        "total": len(groups),
        "page": page,
        "rows": [(group, members[group.name]) for group in page.object_list],
        "pager_query": urlencode({"q": query, "per_page": per_page}) + "&",
    }
    return render(request, "groups/list.html", context)


@changes_iam
@require_http_methods(["GET", "POST"])
def group_create(request: HttpRequest) -> HttpResponse:
    """Create group: CreateGroup, then AttachGroupPolicy for each chosen policy."""
    gateway = gateway_for(request)
    policies = gateway.attachable_policy_index()
    posted = request.method == "POST"
    existing = [group.name for group in gateway.group_index(fresh=posted)]
    form = NewGroupForm(request.POST if posted else None, existing_groups=existing, policies=policies)
    if form.is_bound and form.is_valid():
        name = form.cleaned_data["name"]
        try:
            gateway.create_group(name)
        except EntityAlreadyExists:
            form.add_error("name", DUPLICATE_GROUP_MESSAGE)
        except IamError as error:
            form.add_error(
                None, f"IAM refused to create the group: {error.code} ({error.message}). Nothing was created."
            )
        else:
            messages.success(request, f"User group {name} created.")
            if arns := form.cleaned_data["policies"]:
                steps = _attach_steps(gateway, name, arns, policies)
                _apply(request, steps, done=f"Policies attached to {name}", failed="Could not attach")
            return redirect("users:group_detail", name)
    return render(request, "groups/create.html", {"form": form}, status=400 if form.errors else 200)


def _detail_context(gateway: IamGateway, name: str) -> dict[str, Any]:
    """A group's page: GetGroup, ListAttachedGroupPolicies, ListGroupPolicies."""
    group, members = _group_or_404(gateway, name)
    attached, inline = gateway.list_attached_group_policies(name), gateway.list_group_policy_names(name)
    return {
        "group": group,
        "members": sorted(members, key=lambda user: user.name.casefold()),
        "attached": attached,
        "inline": inline,
        "policy_count": len(attached) + len(inline),
        "max_policies": MAX_MANAGED_POLICIES_PER_GROUP,
    }


def group_detail(request: HttpRequest, name: str) -> HttpResponse:
    return render(request, "groups/detail.html", _detail_context(gateway_for(request), name))


@changes_iam
@require_http_methods(["GET", "POST"])
def group_add_users(request: HttpRequest, name: str) -> HttpResponse:
    gateway = gateway_for(request)
    group, members = _group_or_404(gateway, name)
    posted = request.method == "POST"
    in_group = {user.name for user in members}
    candidates = [user for user in gateway.user_index(fresh=posted) if user.name not in in_group]
    form = AddUsersForm(request.POST if posted else None, candidates=candidates)
    if form.is_bound and form.is_valid():
        steps = [(user, partial(gateway.add_user_to_group, name, user)) for user in form.cleaned_data["users"]]
        _apply(request, steps, done=f"Users added to {name}", failed="Could not add")
        return redirect("users:group_detail", name)
    context = {"group": group, "form": form}
    return render(request, "groups/add_users.html", context, status=400 if form.errors else 200)


@changes_iam
@require_POST
def group_remove_users(request: HttpRequest, name: str) -> HttpResponse:
    gateway = gateway_for(request)
    context = _detail_context(gateway, name)
    form = RemoveUsersForm(request.POST, members=context["members"])
    if not form.is_valid():
        return render(request, "groups/detail.html", {**context, "remove_users": form}, status=400)
    steps = [(user, partial(gateway.remove_user_from_group, name, user)) for user in form.cleaned_data["users"]]
    _apply(request, steps, done=f"Users removed from {name}", failed="Could not remove", gone_is_done=True)
    return redirect("users:group_detail", name)


@changes_iam
@require_http_methods(["GET", "POST"])
def group_add_policies(request: HttpRequest, name: str) -> HttpResponse:
    """Add permissions: attach managed policies, up to 10 per group."""
    gateway = gateway_for(request)
    group, _ = _group_or_404(gateway, name)
    attached = {policy.arn for policy in gateway.list_attached_group_policies(name)}
    policies = gateway.attachable_policy_index()
    candidates = [policy for policy in policies if policy.arn not in attached]
    posted = request.method == "POST"
    form = AddPoliciesForm(request.POST if posted else None, candidates=candidates, attached=attached)
    if form.is_bound and form.is_valid():
        steps = _attach_steps(gateway, name, form.cleaned_data["policies"], policies)
        _apply(request, steps, done=f"Policies attached to {name}", failed="Could not attach")
        return redirect("users:group_detail", name)
    context = {"group": group, "form": form, "max_policies": MAX_MANAGED_POLICIES_PER_GROUP}
    return render(request, "groups/add_policies.html", context, status=400 if form.errors else 200)


@changes_iam
@require_POST
def group_remove_policies(request: HttpRequest, name: str) -> HttpResponse:
    gateway = gateway_for(request)
    context = _detail_context(gateway, name)
    form = RemovePoliciesForm(request.POST, attached=context["attached"])
    if not form.is_valid():
        return render(request, "groups/detail.html", {**context, "remove_policies": form}, status=400)
    names = {policy.arn: policy.name for policy in context["attached"]}
    steps = [(names[arn], partial(gateway.detach_group_policy, name, arn)) for arn in form.cleaned_data["policies"]]
    _apply(request, steps, done=f"Policies detached from {name}", failed="Could not detach", gone_is_done=True)
    return redirect("users:group_detail", name)


@changes_iam
@require_http_methods(["GET", "POST"])
def group_delete(request: HttpRequest) -> HttpResponse:
    """Delete the groups selected on the list (or a group's page): GET asks for the
    confirmation, POST removes each group's members and policies, then the group."""
    data = request.POST if request.method == "POST" else request.GET
    try:
        names = selected_group_names(data.getlist("group"))
    except ValueError:
        return bad_request(request, "That selection holds a name no user group could have: nothing was deleted.")
    if not names:
        messages.error(request, NO_GROUPS_SELECTED_MESSAGE)
        return redirect("users:groups")
    form = DeleteGroupsForm(request.POST if request.method == "POST" else None, group_names=names)
    if not form.is_valid():
        status = 400 if form.is_bound else 200
        return render(request, "groups/delete_confirm.html", {"form": form, "names": names}, status=status)
    gateway = gateway_for(request)
    outcomes = [delete_group(gateway, name) for name in names]
    return render(request, "groups/delete_result.html", {"outcomes": outcomes})
