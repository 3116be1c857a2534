from django.contrib.auth.decorators import permission_required
from django.urls import path
from django.views.decorators.debug import sensitive_post_parameters
from django.views.generic import RedirectView

from . import detail_views, import_views, views
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
    # Below users/details/, so that no user name (they may hold + = , . @ _ -, all taken by
    # the default str converter) can shadow users/create/ or an action.
    path("users/details/<str:name>/", detail_views.user_detail, name="detail"),
    path("account/", views.account_settings, name="account_settings"),
    path("account/password-policy/", views.password_policy_edit, name="password_policy_edit"),
    path("policies/document/", views.policy_document, name="policy_document"),
]

# The Security credentials tab's actions (users/credential_views.py), below the user's page.
from . import credential_views, mfa_views  # noqa: E402

_user = "users/details/<str:name>/"
urlpatterns += [
    path(f"{_user}access-keys/create/", credential_views.CreateAccessKeyWizard.as_view(), name="access_key_create"),
    path(f"{_user}access-keys/<str:key_id>/delete/", credential_views.access_key_delete, name="access_key_delete"),
    path(f"{_user}access-keys/<str:key_id>/rotate/", credential_views.access_key_rotate, name="access_key_rotate"),
    path(f"{_user}console-access/", credential_views.console_access, name="console_access"),
    path(f"{_user}ssh-keys/upload/", credential_views.ssh_key_upload, name="ssh_key_upload"),
    path(f"{_user}ssh-keys/<str:key_id>/", credential_views.ssh_key_show, name="ssh_key_show"),
    path(f"{_user}mfa-devices/remove/", mfa_views.mfa_device_remove, name="mfa_device_remove"),
    path(f"{_user}mfa-devices/assign/", mfa_views.mfa_device_assign, name="mfa_device_assign"),
    path(f"{_user}mfa-devices/assign/<str:retrieval_id>/", mfa_views.mfa_device_codes, name="mfa_device_codes"),
    # Activate/deactivate (and, but for access keys, delete) an access key, SSH key or certificate.
    path(f"{_user}credentials/<str:kind>/<str:credential_id>/status/", credential_views.credential_status,
         name="credential_status"),
    path(f"{_user}credentials/<str:kind>/<str:credential_id>/delete/", credential_views.credential_delete,
         name="credential_delete"),
    path(f"{_user}retrieve/<str:kind>/<str:retrieval_id>/", credential_views.retrieve, name="retrieve"),
    path(f"{_user}retrieve/<str:kind>/<str:retrieval_id>/csv/", credential_views.retrieve_csv, name="retrieve_csv"),
    path(f"{_user}retrieve/<str:kind>/<str:retrieval_id>/done/", credential_views.retrieve_done, name="retrieve_done"),
]

# The Groups and Tags tabs' actions (users/tab_views.py).
from . import tab_views  # noqa: E402

urlpatterns += [
    path(f"{_user}groups/add/", tab_views.add_to_groups, name="user_groups_add"),
    path(f"{_user}groups/remove/", tab_views.remove_from_groups, name="user_groups_remove"),
    path(f"{_user}tags/", tab_views.manage_tags, name="user_tags"),
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

# User groups (users/group_views.py) and Policies (users/policy_views.py). Actions on all groups
# take two segments (groups/actions/...), a group's own take four: no group name (one segment,
# it may be "create" or "actions") can shadow them.
from . import group_views, policy_views  # noqa: E402

urlpatterns += [
    path("groups/", group_views.group_list, name="groups"),
    path("groups/actions/create/", group_views.group_create, name="group_create"),
    path("groups/actions/delete/", group_views.group_delete, name="group_delete"),
    path("groups/<str:name>/", group_views.group_detail, name="group_detail"),
    path("groups/<str:name>/users/add/", group_views.group_add_users, name="group_add_users"),
    path("groups/<str:name>/users/remove/", group_views.group_remove_users, name="group_remove_users"),
    path("groups/<str:name>/permissions/add/", group_views.group_add_policies, name="group_add_policies"),
    path("groups/<str:name>/permissions/remove/", group_views.group_remove_policies, name="group_remove_policies"),
    path("policies/", policy_views.policy_list, name="policies"),
    path("policies/details/", policy_views.policy_detail, name="policy_detail"),
]

# A user's Permissions tab actions (users/permission_views.py).
from . import permission_views  # noqa: E402

_user_permissions = "users/details/<str:name>/permissions/"
urlpatterns += [
    path(_user_permissions + "remove/", permission_views.permissions_remove, name="permissions_remove"),
    path(_user_permissions + "add/", permission_views.permissions_add, name="permissions_add"),
    path(_user_permissions + "add/review/", permission_views.permissions_add_review, name="permissions_add_review"),
    path(_user_permissions + "inline/create/", permission_views.inline_policy_create, name="inline_policy_create"),
    path(_user_permissions + "boundary/", permission_views.boundary_set, name="boundary_set"),
    path(_user_permissions + "boundary/remove/", permission_views.boundary_remove, name="boundary_remove"),
]
