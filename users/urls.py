from django.contrib.auth.decorators import permission_required
from django.urls import path
from django.views.decorators.debug import sensitive_post_parameters
from django.views.generic import RedirectView

from . import import_views, views
from .roles import CHANGE_IAM
from .wizard import AddUserWizard

app_name = "users"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="users:list"), name="home"),
    path("users/", views.user_list, name="list"),
    path(
        "users/create/",
        # Error reports must not show a typed custom password.
        sensitive_post_parameters("details-custom_password")(
            permission_required(CHANGE_IAM, raise_exception=True)(AddUserWizard.as_view())
        ),
        name="create",
    ),
    path("import/", import_views.import_users, name="import"),
    path("import/template.csv", import_views.import_template, name="import_template"),
    path("import/<uuid:import_id>/", import_views.import_plan, name="import_plan"),
    path("import/<uuid:import_id>/confirm/", import_views.import_confirm, name="import_confirm"),
    # Two segments, so that no user name can shadow it.
    path("users/actions/delete/", views.delete_users, name="delete"),
    # IAM user names may hold + = , . @ _ - : the default str converter takes them all.
    path("users/<str:name>/", views.user_detail, name="detail"),
    path("account/", views.account_settings, name="account_settings"),
    path("account/password-policy/", views.password_policy_edit, name="password_policy_edit"),
    path("policies/document/", views.policy_document, name="policy_document"),
]

# Jobs (users/job_views.py): progress, the Success page with the one-time credentials, actions.
from . import job_views  # noqa: E402

urlpatterns += [
    path("jobs/", job_views.job_list, name="jobs"),
    path("jobs/<uuid:job_id>/", job_views.job_detail, name="job_detail"),
    path("jobs/<uuid:job_id>/progress/", job_views.job_progress, name="job_progress"),
    path("jobs/<uuid:job_id>/credentials/", job_views.job_credentials, name="job_credentials"),
    path("jobs/<uuid:job_id>/credentials.csv", job_views.job_credentials_csv, name="job_credentials_csv"),
    path("jobs/<uuid:job_id>/close/", job_views.job_close, name="job_close"),
    path("jobs/<uuid:job_id>/retry/", job_views.job_retry, name="job_retry"),
    path("jobs/<uuid:job_id>/cancel/", job_views.job_cancel, name="job_cancel"),
]
