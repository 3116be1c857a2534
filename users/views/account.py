"""Account settings: the account's id, alias and sign-in URL, and its password policy."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from users.forms.account import PasswordPolicyForm
from users.views.shortcuts import changes_iam, gateway_for


def account_settings(request: HttpRequest) -> HttpResponse:
    gateway = gateway_for(request)
    context = {"account": gateway.cached_account_info(), "policy": gateway.get_password_policy()}
    return render(request, "users/account_settings.html", context)


@changes_iam
@require_http_methods(["GET", "POST"])
def password_policy_edit(request: HttpRequest) -> HttpResponse:
    gateway = gateway_for(request)
    if request.method == "POST":
        form = PasswordPolicyForm(request.POST)
        if form.is_valid():
            policy = form.to_policy()
            if policy is None:
                gateway.delete_password_policy()
                messages.success(request, "The account now uses the IAM default password policy.")
            else:
                gateway.update_password_policy(policy)
                messages.success(request, "Password policy updated.")
            return redirect("users:account_settings")
    else:
        form = PasswordPolicyForm(initial=PasswordPolicyForm.initial_for(gateway.get_password_policy()))
    return render(request, "users/password_policy_edit.html", {"form": form})
