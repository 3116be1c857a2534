from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from iamconsole import error_pages
from users.forms.sign_in import SignInForm
from users.views.health import liveness, readiness
from users.views.shortcuts import ends_secrets

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(authentication_form=SignInForm, redirect_authenticated_user=True),
        name="login",
    ),
    # Sign-out: no-store, and the browser drops its cache of the pages that showed secrets.
    path("logout/", ends_secrets(auth_views.LogoutView.as_view()), name="logout"),
    path("health/", readiness, name="health"),
    path("health/live/", liveness, name="health_live"),
    path("admin/", admin.site.urls),
    path("", include("users.urls")),
]

handler400 = error_pages.bad_request
handler403 = error_pages.permission_denied
handler404 = error_pages.page_not_found
handler500 = error_pages.server_error
