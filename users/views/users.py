"""The Users list (search, columns, preferences, paging) and Delete users (FEATURES.md §4A)."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from users.deletion import delete_user
from users.forms.users import (
    NO_USERS_SELECTED_MESSAGE,
    DeleteUsersForm,
    ListPreferencesForm,
    UserSearchForm,
    selected_user_names,
)
from users.iam.errors import CredentialReportNotReady, IamError
from users.iam.gateway import IamGateway
from users.iam.types import AccessKey, CredentialReport, UserSummary
from users.list_columns import rows
from users.models import Column, ListPreferences
from users.views.shortcuts import bad_request, changes_iam, gateway_for, operator_for, search_users


def _access_keys(gateway: IamGateway, users: list[UserSummary], fresh: bool) -> dict[str, list[AccessKey]]:
    """The access keys of one page of users (cached)."""
    return gateway.cached_access_keys([user.name for user in users], fresh=fresh) if users else {}


def _credential_report(gateway: IamGateway, columns: list[Column], fresh: bool) -> tuple[CredentialReport | None, str]:
    """IAM's credential report if a shown column needs it; else None, and why if IAM failed."""
    if not any(column.source == "report" for column in columns):
        return None, ""
    try:
        return gateway.credential_report(fresh=fresh), ""
    except CredentialReportNotReady:
        return None, "IAM is still generating its credential report: refresh in a few seconds."
    except IamError as error:
        return None, f"IAM did not give its credential report ({error.code})."


def _save_list_preferences(request: HttpRequest) -> HttpResponse:
    """Keep the operator's page size and columns. Viewers may too: only their own list changes."""
    form = ListPreferencesForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Those preferences cannot be saved.")
        return redirect("users:list")
    ListPreferences.objects.update_or_create(operator=operator_for(request), defaults=form.cleaned_data)
    messages.success(request, "Preferences saved.")
    return redirect("users:list")


@require_http_methods(["GET", "POST"])
def user_list(request: HttpRequest) -> HttpResponse:
    """One page of IAM users in the operator's columns; POST saves the operator's preferences."""
    if request.method == "POST":
        return _save_list_preferences(request)
    preferences = ListPreferences.of(operator_for(request))
    data = request.GET.copy()
    data.setdefault("per_page", str(preferences.per_page))
    form = UserSearchForm(data)
    query, per_page = "", preferences.per_page
    if form.is_valid():
        query, per_page = form.cleaned_data["q"], form.cleaned_data["per_page"]
    columns, fresh = preferences.visible_columns(), "refresh" in request.GET
    gateway = gateway_for(request)
    users = gateway.user_index(fresh=fresh)
    page = Paginator(search_users(gateway, users, query), per_page).get_page(request.GET.get("page"))
    shown = list(page.object_list)
    keys = _access_keys(gateway, shown, fresh) if any(column.source == "keys" for column in columns) else {}
    report, report_problem = _credential_report(gateway, columns, fresh)
    context = {
        "form": form,
        "query": query,
        "per_page": per_page,
        "total": len(users),
        "page": page,
        "elided_page_range": page.paginator.get_elided_page_range(page.number),
        "columns": columns,
        "rows": rows(shown, columns, keys, report),
        "report": report,
        "report_problem": report_problem,
        "preferences_form": ListPreferencesForm(
            initial={"per_page": preferences.per_page, "columns": [column.key for column in columns]}
        ),
    }
    return render(request, "users/list.html", context)


@changes_iam
@require_http_methods(["GET", "POST"])
def delete_users(request: HttpRequest) -> HttpResponse:
    """Delete the users selected on the list: GET asks for the confirmation, POST removes what
    each user has and then the user (users/deletion.py), and shows the result step by step."""
    data = request.POST if request.method == "POST" else request.GET
    try:
        names = selected_user_names(data.getlist("user"))
    except ValueError:
        return bad_request(request, "That selection holds a name no IAM user could have: nothing was deleted.")
    if not names:
        messages.error(request, NO_USERS_SELECTED_MESSAGE)
        return redirect("users:list")
    form = DeleteUsersForm(request.POST or None, user_names=names)
    if not form.is_valid():
        status = 400 if form.is_bound else 200
        return render(request, "users/delete_confirm.html", {"form": form, "names": names}, status=status)
    gateway = gateway_for(request)
    outcomes = [delete_user(gateway, name) for name in names]
    return render(request, "users/delete_result.html", {"outcomes": outcomes})
