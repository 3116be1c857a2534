from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from iamconsole import error_pages
from users.views.health import liveness, readiness
from users.views.shortcuts import ends_secrets
from users.views.sign_in import SignInView

urlpatterns = [
    path("login/", SignInView.as_view(), name="login"),
    # Sign-in at the identity provider (OpenID Connect): 404 unless OIDC_ISSUER is set.
    path("oidc/", include("users.oidc.urls")),
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
