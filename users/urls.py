from django.urls import path
from django.views.generic import RedirectView

from . import views

app_name = "users"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="users:list"), name="home"),
    path("users/", views.user_list, name="list"),
    # IAM user names may hold + = , . @ _ - : the default str converter takes them all.
    path("users/<str:name>/", views.user_detail, name="detail"),
    path("account/", views.account_settings, name="account_settings"),
    path("account/password-policy/", views.password_policy_edit, name="password_policy_edit"),
]
