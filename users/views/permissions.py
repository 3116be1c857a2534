"""The Permissions tab's actions (FEATURES.md §4C): Remove a policy, Add permissions (options,
then Review), Create inline policy, and Set / Change / Remove the permissions boundary.
Every change goes through the gateway, says what it did, and returns to the tab."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from functools import partial
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from users import user_details
from users.forms.groups import NEW_GROUP_PREFIX, NewGroupForm
from users.forms.permissions import AddPermissionsForm, BoundaryForm, InlinePolicyForm
from users.iam.errors import IamError, LimitExceeded, MalformedPolicyDocument
from users.iam.gateway import IamGateway
from users.iam.types import GroupSummary, Policy
from users.provisioning import UserPlan, copy_permissions
from users.user_details import PermissionRow, UserDetails
from users.views.shortcuts import changes_iam, create_group_from_dialog, gateway_for, read_user


def _view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """An action: operators only (`changes_iam`); GET shows its page, POST changes IAM."""
    return changes_iam(require_http_methods(["GET", "POST"])(view))


def _back(name: str) -> HttpResponse:
    return redirect(reverse("users:detail", args=[name]) + "?section=permissions")


def _describe(arn: str, policies: dict[str, Policy]) -> tuple[str, str]:
    """A managed policy's name and Type, from the policy index (`policies`, by ARN) if there."""
    policy = policies.get(arn)
    return (policy.name, policy.policy_type) if policy else (arn.rsplit("/", 1)[-1], "Managed policy")


def _group_policy_names(group: GroupSummary | None) -> list[str]:
    """What a member gets from a group: its managed policies' names, then its inline ones'."""
    return [*group.policies, *group.inline_policies] if group else []


def _inline_documents(gateway: IamGateway, name: str) -> dict[str, str]:
    """The user's inline policies as JSON strings, for the 2,048-character quota."""
    return {
        policy.name: policy.document if isinstance(policy.document, str) else json.dumps(policy.document)
        for policy in gateway.list_user_policies(name)
    }


# --- Remove ------------------------------------------------------------------------------------


@_view
def permissions_remove(request: HttpRequest, name: str) -> HttpResponse:
    """Remove one row of the tab (`key`: its `PermissionRow.key`): a group's policy removes the
    user from the group, a direct one is detached, an inline one deleted."""
    gateway = gateway_for(request)
    details = read_user(gateway, name)
    key = (request.POST if request.method == "POST" else request.GET).get("key", "")
    row = next((row for row in user_details.permission_rows(gateway, details) if row.key == key), None)
    if row is None:
        raise Http404("This user has no such policy.")
    if request.method == "GET":
        lost = _group_policy_names(user_details.groups_by_name(gateway).get(row.group or ""))
        context = {"iam_user": details.user, "row": row, "group_policies": lost}
        return render(request, "users/permissions/remove.html", context)
    _remove(request, gateway, name, row)
    return _back(name)


def _remove(request: HttpRequest, gateway: IamGateway, name: str, row: PermissionRow) -> None:
    if row.group:
        call = partial(gateway.remove_user_from_group, row.group, name)
        done = f"{name} was removed from group {row.group}."
    elif row.arn:
        call, done = partial(gateway.detach_user_policy, name, row.arn), f"Policy {row.name} removed."
    else:
        call, done = partial(gateway.delete_user_policy, name, row.name), f"1 inline policy removed: {row.name}."
    try:
        call()
    except IamError as error:
        messages.error(request, f"Policy {row.name} was not removed: IAM answered {error.code} ({error.message}).")
    else:
        messages.success(request, done)


# --- Add permissions: options, then Review ----------------------------------------------------


ADD_PREFIX = "add"


def _plan_key(name: str) -> str:
    return f"add-permissions:{name}"


def _add_form(
    gateway: IamGateway,
    details: UserDetails,
    *,
    data: QueryDict | None = None,
    initial: dict[str, Any] | None = None,
) -> AddPermissionsForm:
    name = details.user.name
    member_of = {group.name for group in details.groups}
    attached = {policy.arn for policy in gateway.list_attached_user_policies(name)}
    return AddPermissionsForm(
        data,
        prefix=ADD_PREFIX,
        initial=initial,
        user_name=name,
        member_of=member_of,
        attached=attached,
        boundary=details.user.permissions_boundary_arn,
        groups=[group for group in gateway.group_index() if group.name not in member_of],
        users=[user for user in gateway.user_index() if user.name != name],
        policies=[policy for policy in gateway.attachable_policy_index() if policy.arn not in attached],
        copy_permissions=lambda source: copy_permissions(gateway, source),
        inline_documents=lambda: _inline_documents(gateway, name),
    )


@_view
def permissions_add(request: HttpRequest, name: str) -> HttpResponse:
    """Add permissions, step 1: the wizard's three options. The plan waits in the session for
    the Review (`?back` shows the choices it was made from)."""
    gateway = gateway_for(request)
    details = read_user(gateway, name)
    if request.method == "POST" and "create_group" in request.POST:
        return _create_group(request, gateway, details)
    saved = request.session.get(_plan_key(name)) if "back" in request.GET else None
    form = _add_form(
        gateway,
        details,
        data=request.POST if request.method == "POST" else None,
        initial=saved["choices"] if saved else None,
    )
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        choices = {key: data[key] for key in ("option", "groups", "policies", "copy_from")}
        request.session[_plan_key(name)] = {
            "token": secrets.token_urlsafe(16),
            "plan": data["plan"].to_json(),
            "choices": choices,
        }
        return redirect("users:permissions_add_review", name)
    new_group = NewGroupForm(prefix=NEW_GROUP_PREFIX, existing_groups=(), policies=gateway.attachable_policy_index())
    context = {"iam_user": details.user, "form": form, "new_group": new_group}
    return render(request, "users/permissions/add.html", context, status=400 if form.is_bound else 200)


def _create_group(request: HttpRequest, gateway: IamGateway, details: UserDetails) -> HttpResponse:
    """The Create group dialog: create it in IAM, then show the options again as they were
    chosen, with the new group selected."""
    new_group, created = create_group_from_dialog(request, gateway)
    post = request.POST
    choices = {
        "option": "group",
        "groups": [*post.getlist(f"{ADD_PREFIX}-groups"), *([created] if created else [])],
        "policies": post.getlist(f"{ADD_PREFIX}-policies"),
        "copy_from": post.get(f"{ADD_PREFIX}-copy_from"),
    }
    form = _add_form(gateway, details, initial=choices)
    context = {"iam_user": details.user, "form": form, "new_group": new_group}
    return render(request, "users/permissions/add.html", context, status=400 if new_group.errors else 200)


@_view
def permissions_add_review(request: HttpRequest, name: str) -> HttpResponse:
    """Add permissions, step 2: what will be done; `Add permissions` does it. The token makes
    sure that what is done is what this page showed (not another window's later plan)."""
    gateway = gateway_for(request)
    details = read_user(gateway, name)
    saved = request.session.get(_plan_key(name))
    if saved is None:
        messages.info(request, "Choose the permissions to add.")
        return redirect("users:permissions_add", name)
    plan = UserPlan.from_json(saved["plan"])
    stale = request.method == "POST" and request.POST.get("token") != saved["token"]
    if request.method == "POST" and not stale:
        del request.session[_plan_key(name)]
        _apply(request, gateway, plan)
        return _back(name)
    context = _review_context(gateway, plan) | {"iam_user": details.user, "token": saved["token"], "stale": stale}
    return render(request, "users/permissions/review.html", context, status=400 if stale else 200)


def _review_context(gateway: IamGateway, plan: UserPlan) -> dict[str, Any]:
    policies = {policy.arn: policy for policy in gateway.policy_index()}
    groups_by_name = user_details.groups_by_name(gateway) if plan.groups else {}
    summary = [(group, "Group", "Permissions group") for group in plan.groups]
    summary += [(*_describe(arn, policies), "Permissions policy") for arn in plan.policy_arns]
    summary += [(policy, user_details.INLINE, "Permissions policy") for policy, _ in plan.inline_policies]
    if plan.permissions_boundary:
        summary.append((*_describe(plan.permissions_boundary, policies), "Permissions boundary"))
    groups = [(group, _group_policy_names(groups_by_name.get(group))) for group in plan.groups]
    return {"plan": plan, "summary": summary, "groups": groups}


def _apply(request: HttpRequest, gateway: IamGateway, plan: UserPlan) -> None:
    """Make the plan's changes in order, stopping at the first IAM refusal, and say what was
    added, what failed and what was not tried."""
    user, policies = plan.user_name, {policy.arn: policy for policy in gateway.policy_index()}
    steps = [(f"group {group}", partial(gateway.add_user_to_group, group, user)) for group in plan.groups]
    steps += [
        (f"policy {_describe(arn, policies)[0]}", partial(gateway.attach_user_policy, user, arn))
        for arn in plan.policy_arns
    ]
    steps += [
        (f"inline policy {policy}", partial(gateway.put_user_policy, user, policy, document))
        for policy, document in plan.inline_policies
    ]
    if arn := plan.permissions_boundary:
        set_boundary = partial(gateway.put_user_permissions_boundary, user, arn)
        steps.append((f"permissions boundary {_describe(arn, policies)[0]}", set_boundary))
    done: list[str] = []
    with gateway.changes_then_invalidate():
        for index, (label, call) in enumerate(steps):
            try:
                call()
            except IamError as error:
                if done:
                    messages.success(request, f"Added to {user}: {', '.join(done)}.")
                message = f"Not added: {label} (IAM answered {error.code}: {error.message})."
                if rest := [label for label, _ in steps[index + 1 :]]:
                    message += f" Not tried: {', '.join(rest)}."
                messages.error(request, message)
                return
            done.append(label)
    messages.success(request, f"Permissions added to {user}: {', '.join(done)}.")


# --- Create inline policy ---------------------------------------------------------------------


@_view
def inline_policy_create(request: HttpRequest, name: str) -> HttpResponse:
    """Create inline policy: checked against the user's other inline policies, then
    PutUserPolicy with the normalized document."""
    gateway = gateway_for(request)
    details = read_user(gateway, name)
    bound = request.method == "POST"
    form = InlinePolicyForm(request.POST if bound else None, existing=_inline_documents(gateway, name))
    if bound and form.is_valid():
        policy = form.cleaned_data["name"]
        try:
            gateway.put_user_policy(name, policy, form.cleaned_data["normalized"])
        except (MalformedPolicyDocument, LimitExceeded) as error:
            form.add_error("document", f"IAM refused the policy: {error.message}")
        except IamError as error:
            form.add_error(None, f"IAM answered {error.code} ({error.message}). The policy was not created.")
        else:
            messages.success(request, f"Policy {policy} created.")
            return _back(name)
    context = {"iam_user": details.user, "form": form}
    return render(request, "users/permissions/inline_policy.html", context, status=400 if form.errors else 200)


# --- Permissions boundary ---------------------------------------------------------------------


@_view
def boundary_set(request: HttpRequest, name: str) -> HttpResponse:
    """Set or change the permissions boundary (PutUserPermissionsBoundary)."""
    gateway = gateway_for(request)
    details = read_user(gateway, name)
    policies = gateway.policy_index()
    current = details.user.permissions_boundary_arn
    bound = request.method == "POST"
    form = BoundaryForm(request.POST if bound else None, policies=policies, initial={"policy": current})
    if bound and form.is_valid():
        policy = form.cleaned_data["policy"]
        try:
            gateway.put_user_permissions_boundary(name, policy.arn)
        except IamError as error:
            form.add_error("policy", f"IAM refused this policy as a boundary: {error.code} ({error.message}).")
        else:
            messages.success(request, f"Permissions boundary {'changed' if current else 'set'} to {policy.name}.")
            return _back(name)
    by_arn = {policy.arn: policy for policy in policies}
    context = {"iam_user": details.user, "form": form, "current": _describe(current, by_arn)[0] if current else None}
    return render(request, "users/permissions/boundary_set.html", context, status=400 if form.errors else 200)


@_view
def boundary_remove(request: HttpRequest, name: str) -> HttpResponse:
    """Remove the permissions boundary (DeleteUserPermissionsBoundary), once confirmed."""
    gateway = gateway_for(request)
    details = read_user(gateway, name)
    arn = details.user.permissions_boundary_arn
    if not arn:
        messages.info(request, f"{name} has no permissions boundary.")
        return _back(name)
    if request.method == "GET":
        return render(request, "users/permissions/boundary_remove.html", {"iam_user": details.user, "arn": arn})
    try:
        gateway.delete_user_permissions_boundary(name)
    except IamError as error:
        message = f"The permissions boundary was not removed: IAM answered {error.code} ({error.message})."
        messages.error(request, message)
    else:
        messages.success(request, f"Permissions boundary {arn.rsplit('/', 1)[-1]} removed.")
    return _back(name)
