"""The user details page: Summary and the Permissions, Groups, Tags, Security credentials and
Last Accessed tabs (FEATURES.md §4B-4G), and the Groups and Tags tabs' actions. One tab is read
per page, so a page costs at most 12 IAM calls (the Last Accessed tab: 3, or 5 while IAM
is still making its report)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from users import user_details
from users.forms.details import AddToGroupsForm, ManageTagsFormSet
from users.iam.errors import IamError, NoSuchEntity
from users.iam.gateway import IamGateway
from users.user_details import DEFAULT_SECTION, POLICY_TYPES, SECTIONS, PermissionRow, UserDetails
from users.validators import CONSOLE_TAG_PREFIX
from users.views.shortcuts import changes_iam, gateway_for, read_user

# The Last Accessed tab's filter, as the console words it.
LAST_ACCESSED_FILTERS = {"": "No filter", "accessed": "Services accessed", "not_accessed": "Services not accessed"}


def user_detail(request: HttpRequest, name: str) -> HttpResponse:
    gateway = gateway_for(request)
    details = read_user(gateway, name)
    section = request.GET.get("section", DEFAULT_SECTION)
    if section not in SECTIONS:
        section = DEFAULT_SECTION
    context: dict[str, Any] = {
        "details": details,
        "iam_user": details.user,
        "section": section,
        "sections": SECTIONS,
    }
    if section == "permissions":
        context.update(_permissions(request, gateway, details))
    elif section == "groups":
        context["group_rows"] = user_details.group_rows(gateway, details)
    elif section == "tags":
        context["tag_rows"] = user_details.tag_rows(details)
    elif section == "last_accessed":
        context.update(_last_accessed(request, gateway, details))
    else:
        context["credentials"] = user_details.security_credentials(gateway, details)
    return render(request, "users/detail.html", context)


def _permissions(request: HttpRequest, gateway: IamGateway, details: UserDetails) -> dict[str, Any]:
    """The Permissions tab: the rows (filtered by Type and a search), and the JSON of the one
    row the operator expanded (?show=<row key>; only a key of a listed row is read)."""
    rows = user_details.permission_rows(gateway, details)
    policy_type = request.GET.get("type", "")
    policy_type = policy_type if policy_type in POLICY_TYPES else ""
    query = request.GET.get("q", "").strip()[:128]
    shown = next((row for row in rows if row.key == request.GET.get("show")), None)
    return {
        "permission_rows": user_details.filter_rows(rows, policy_type=policy_type, query=query),
        "permission_count": len(rows),
        "policy_types": POLICY_TYPES,
        "policy_type": policy_type,
        "query": query,
        "shown": shown,
        "shown_document": _document(gateway, details, shown) if shown else None,
    }


def _last_accessed(request: HttpRequest, gateway: IamGateway, details: UserDetails) -> dict[str, Any]:
    """The Last Accessed tab (FEATURES.md §4G): the services the user's policies allow, with
    when each was last used, filtered (?filter=accessed or not_accessed)."""
    report = gateway.service_last_accessed(details.user.arn)
    chosen = request.GET.get("filter", "")
    chosen = chosen if chosen in LAST_ACCESSED_FILTERS else ""
    now = timezone.now()
    rows = [
        (service, last_accessed_label(service.last_accessed, now))
        for service in report.services
        if not chosen or (service.last_accessed is not None) == (chosen == "accessed")
    ]
    return {
        "last_accessed": report,
        "last_accessed_rows": rows,
        "last_accessed_filter": chosen,
        "last_accessed_filters": LAST_ACCESSED_FILTERS,
    }


def last_accessed_label(when: datetime | None, now: datetime) -> str:
    """The console's Last accessed cell: "Today", "1 day ago", "N days ago", or "Not accessed
    in the tracking period"."""
    if when is None:
        return "Not accessed in the tracking period"
    days = max((now - when).days, 0)
    return "Today" if days == 0 else f"{days} day{'' if days == 1 else 's'} ago"


def _document(gateway: IamGateway, details: UserDetails, row: PermissionRow) -> str:
    if row.arn:
        document = gateway.get_policy_document(row.arn)
    elif row.group:
        document = gateway.get_group_policy_document(row.group, row.name)
    else:
        document = gateway.get_user_policy_document(details.user.name, row.name)
    return json.dumps(document, indent=2)


# --- The Groups and Tags tabs' actions (FEATURES.md §4D, §4E) ---------------------------------


def _tab(name: str, section: str) -> str:
    return reverse("users:detail", args=[name]) + f"?section={section}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


# --- Groups ----------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@changes_iam
def add_to_groups(request: HttpRequest, name: str) -> HttpResponse:
    gateway = gateway_for(request)
    details = read_user(gateway, name)
    member = {group.name for group in details.groups}
    available = [group.name for group in gateway.group_index() if group.name not in member]
    form = AddToGroupsForm(request.POST or None, available=available, member_of=len(member))
    if request.method == "POST" and form.is_valid():
        added, failures = [], []
        for group in form.cleaned_data["groups"]:
            try:
                gateway.add_user_to_group(group, name)
                added.append(group)
            except IamError as error:
                failures.append(f"{group}: {error.code}. {error.message}")
        if len(added) == 1:
            messages.success(request, f"User added to group {added[0]}.")
        elif added:
            messages.success(request, f"User added to {_plural(len(added), 'group')}: {', '.join(added)}.")
        for failure in failures:
            messages.error(request, f"Not added to {failure}")
        return redirect(_tab(name, "groups"))
    context = {"iam_user": details.user, "form": form, "member_of": len(member)}
    return render(request, "users/tabs/add_to_groups.html", context, status=400 if form.is_bound else 200)


@require_http_methods(["GET", "POST"])
@changes_iam
def remove_from_groups(request: HttpRequest, name: str) -> HttpResponse:
    """Remove the user from the groups picked on the Groups tab (?group=…), after a confirmation."""
    gateway = gateway_for(request)
    details = read_user(gateway, name)
    data = request.POST if request.method == "POST" else request.GET
    member = {group.name for group in details.groups}
    groups = list(dict.fromkeys(data.getlist("group")))
    if not groups or not set(groups) <= member:
        raise Http404("Pick groups the user is a member of.")
    if request.method == "GET":
        return render(request, "users/tabs/remove_from_groups.html", {"iam_user": details.user, "groups": groups})
    removed = []
    for group in groups:
        try:
            gateway.remove_user_from_group(group, name)
            removed.append(group)
        except NoSuchEntity:
            removed.append(group)  # already out
        except IamError as error:
            messages.error(request, f"Not removed from {group}: {error.code}. {error.message}")
    if removed:
        messages.success(request, f"User removed from {_plural(len(removed), 'group')}: {', '.join(removed)}.")
    return redirect(_tab(name, "groups"))


# --- Tags ------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@changes_iam
def manage_tags(request: HttpRequest, name: str) -> HttpResponse:
    """Manage tags: edit, add and remove the user's tags in one set (UntagUser, then TagUser);
    the console's own `iamconsole:` tags are shown but kept as they are."""
    gateway = gateway_for(request)
    details = read_user(gateway, name)
    kept = [(key, value) for key, value in details.user.tags if key.casefold().startswith(CONSOLE_TAG_PREFIX)]
    editable = {key: value for key, value in details.user.tags if (key, value) not in kept}
    initial = [{"key": key, "value": value} for key, value in editable.items()]
    formset = ManageTagsFormSet(request.POST or None, initial=None if request.POST else initial, kept=kept)
    if request.method == "POST" and formset.is_valid():
        wanted = formset.tags
        removed = [key for key in editable if key not in wanted]
        changed = {key: value for key, value in wanted.items() if editable.get(key) != value}
        untagged = False
        try:
            if removed:
                gateway.untag_user(name, removed)
                untagged = True
            if changed:
                gateway.tag_user(name, changed)
        except IamError as error:
            done = f"{', '.join(removed)} removed, nothing added or changed" if untagged else "nothing was changed"
            messages.error(request, f"Saving the tags failed ({error.code}. {error.message}): {done}.")
            return redirect(_tab(name, "tags"))
        if removed or changed:
            messages.success(
                request, f"Tags saved: {_plural(len(changed), 'tag')} added or changed, {len(removed)} removed."
            )
        else:
            messages.info(request, "No changes to save.")
        return redirect(_tab(name, "tags"))
    context = {"iam_user": details.user, "formset": formset, "kept": kept}
    return render(request, "users/tabs/manage_tags.html", context, status=400 if formset.is_bound else 200)
