"""The OpenID Connect flow's two URLs: /oidc/authenticate/ starts it, /oidc/callback/ is the
redirect URI registered at the identity provider."""

from django.contrib.auth.decorators import login_not_required
from django.urls import path

from users.views.sign_in import OidcCallbackView, OidcStartView

urlpatterns = [
    path("authenticate/", login_not_required(OidcStartView.as_view()), name="oidc_authentication_init"),
    path("callback/", login_not_required(OidcCallbackView.as_view()), name="oidc_authentication_callback"),
]
