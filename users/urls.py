"""The console's URLs, one block per area; each area's views are users/views/<area>.py."""

from django.urls import path
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET
from django.views.generic import RedirectView

from users.views import (
    account,
    audit,
    certificates,
    details,
    groups,
    hygiene,
    imports,
    jobs,
    mfa,
    operator_mfa,
    permissions,
    policies,
    security,
    service_credentials,
    users,
)
from users.views import drift as drift_views
from users.views.shortcuts import changes_iam
from users.views.wizard import AddUserWizard

app_name = "users"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="users:list"), name="home"),
    path("users/", users.user_list, name="list"),
    path(
        "users/create/",
        # Error reports must not show a typed custom password.
        sensitive_post_parameters("details-custom_password")(changes_iam(AddUserWizard.as_view())),
        name="create",
    ),
    # The Review's plan as Terraform (users/plans/terraform.py); the wizard itself is users/create/.
    path(
        "users/create/iam-users.tf",
        require_GET(changes_iam(AddUserWizard.as_view(terraform_download=True))),
        name="create_terraform",
    ),
    path("import/", imports.import_users, name="import"),
    path("import/template.csv", imports.import_template, name="import_template"),
    path("import/<uuid:import_id>/", imports.import_plan, name="import_plan"),
    path("import/<uuid:import_id>/confirm/", imports.import_confirm, name="import_confirm"),
    path("import/<uuid:import_id>/errors.csv", imports.import_bad_rows, name="import_bad_rows"),
    path("import/<uuid:import_id>/iam-users.tf", imports.import_terraform, name="import_terraform"),
    # Two segments, so that no user name can shadow it.
    path("users/actions/delete/", users.delete_users, name="delete"),
    path("users/actions/export.csv", imports.export_users, name="export"),
    # Below users/details/, so that no user name (they may hold + = , . @ _ -, all taken by
    # the default str converter) can shadow users/create/ or an action.
    path("users/details/<str:name>/", details.user_detail, name="detail"),
    path("account/", account.account_settings, name="account_settings"),
    path("account/password-policy/", account.password_policy_edit, name="password_policy_edit"),
    path("account/alias/", account.account_alias_edit, name="account_alias_edit"),
    path("account/alias/delete/", account.account_alias_delete, name="account_alias_delete"),
    path("account/credential-report.csv", account.credential_report_download, name="credential_report"),
    # Operator MFA (users/views/operator_mfa.py): the OTP step, enrolment, resetting an operator.
    path("account/mfa/", operator_mfa.mfa_status, name="mfa_status"),
    path("account/mfa/enrol/", operator_mfa.mfa_enrol, name="mfa_enrol"),
    path("account/mfa/verify/", operator_mfa.mfa_verify, name="mfa_verify"),
    path("account/mfa/operators/", operator_mfa.mfa_operators, name="mfa_operators"),
    path("account/mfa/operators/<int:user_id>/reset/", operator_mfa.mfa_reset, name="mfa_reset"),
    path("policies/document/", policies.policy_document, name="policy_document"),
    path("policies/search/", policies.policy_search, name="policy_search"),
    path("audit/", audit.audit_list, name="audit"),
    path("audit/export.csv", audit.audit_export, name="audit_export"),
    # Access-key hygiene (users/views/hygiene.py): stale keys, users without MFA, Deactivate.
    path("hygiene/", hygiene.hygiene, name="hygiene"),
    path("hygiene/export.csv", hygiene.hygiene_export, name="hygiene_export"),
    path("hygiene/deactivate/", hygiene.hygiene_deactivate, name="hygiene_deactivate"),
    path("hygiene/rotate/<str:name>/<int:slot>/", hygiene.hygiene_rotate, name="hygiene_rotate"),
]

# The Security credentials tab's actions (users/views/security.py), below the user's page.
_user = "users/details/<str:name>/"
urlpatterns += [
    path(f"{_user}access-keys/create/", security.CreateAccessKeyWizard.as_view(), name="access_key_create"),
    path(f"{_user}access-keys/<str:key_id>/delete/", security.access_key_delete, name="access_key_delete"),
    path(f"{_user}access-keys/<str:key_id>/rotate/", security.access_key_rotate, name="access_key_rotate"),
    path(f"{_user}console-access/", security.console_access, name="console_access"),
    path(f"{_user}ssh-keys/upload/", security.ssh_key_upload, name="ssh_key_upload"),
    path(f"{_user}ssh-keys/<str:key_id>/", security.ssh_key_show, name="ssh_key_show"),
    # X.509 signing certificates (users/views/certificates.py); the created private key shown once.
    path(f"{_user}signing-certificates/upload/", certificates.certificate_upload, name="certificate_upload"),
    path(f"{_user}signing-certificates/create/", certificates.certificate_create, name="certificate_create"),
    path(
        f"{_user}signing-certificates/retrieve/<str:retrieval_id>/",
        certificates.certificate_retrieve,
        name="certificate_retrieve",
    ),
    path(
        f"{_user}signing-certificates/retrieve/<str:retrieval_id>/<str:file>.pem",
        certificates.certificate_download,
        name="certificate_download",
    ),
    path(
        f"{_user}signing-certificates/retrieve/<str:retrieval_id>/done/",
        certificates.certificate_done,
        name="certificate_done",
    ),
    path(f"{_user}mfa-devices/remove/", mfa.mfa_device_remove, name="mfa_device_remove"),
    path(f"{_user}mfa-devices/assign/", mfa.mfa_device_assign, name="mfa_device_assign"),
    path(f"{_user}mfa-devices/assign/<str:retrieval_id>/", mfa.mfa_device_codes, name="mfa_device_codes"),
    path(f"{_user}mfa-devices/resync/", mfa.mfa_device_resync, name="mfa_device_resync"),
    # HTTPS Git and Keyspaces credentials (users/views/service_credentials.py); their status and
    # deletion are the generic views below (kind "service-credential").
    path(
        f"{_user}service-credentials/<str:service>/generate/",
        service_credentials.service_credential_generate,
        name="service_credential_generate",
    ),
    path(
        f"{_user}service-credentials/<str:credential_id>/reset/",
        service_credentials.service_credential_reset,
        name="service_credential_reset",
    ),
    # Activate/deactivate (and, but for access keys, delete) an access key, SSH key or certificate.
    path(
        f"{_user}credentials/<str:kind>/<str:credential_id>/status/",
        security.credential_status,
        name="credential_status",
    ),
    path(
        f"{_user}credentials/<str:kind>/<str:credential_id>/delete/",
        security.credential_delete,
        name="credential_delete",
    ),
    path(f"{_user}retrieve/<str:kind>/<str:retrieval_id>/", security.retrieve, name="retrieve"),
    path(f"{_user}retrieve/<str:kind>/<str:retrieval_id>/csv/", security.retrieve_csv, name="retrieve_csv"),
    path(
        f"{_user}retrieve/<str:kind>/<str:retrieval_id>/credentials-file/",
        security.retrieve_credentials_file,
        name="retrieve_credentials_file",
    ),
    path(f"{_user}retrieve/<str:kind>/<str:retrieval_id>/done/", security.retrieve_done, name="retrieve_done"),
]

# The Groups and Tags tabs' actions (users/views/details.py).
urlpatterns += [
    path(f"{_user}groups/add/", details.add_to_groups, name="user_groups_add"),
    path(f"{_user}groups/remove/", details.remove_from_groups, name="user_groups_remove"),
    path(f"{_user}tags/", details.manage_tags, name="user_tags"),
]

# Jobs (users/views/jobs.py): progress, the Success page with the one-time credentials, actions.
urlpatterns += [
    path("jobs/", jobs.job_list, name="jobs"),
    path("jobs/<uuid:job_id>/", jobs.job_detail, name="job_detail"),
    path("jobs/<uuid:job_id>/progress/", jobs.job_progress, name="job_progress"),
    path("jobs/<uuid:job_id>/credentials/", jobs.job_credentials, name="job_credentials"),
    path("jobs/<uuid:job_id>/credentials.csv", jobs.job_credentials_csv, name="job_credentials_csv"),
    path("jobs/<uuid:job_id>/credentials-file/", jobs.job_credentials_file, name="job_credentials_file"),
    path("jobs/<uuid:job_id>/close/", jobs.job_close, name="job_close"),
    path("jobs/<uuid:job_id>/retry/", jobs.job_retry, name="job_retry"),
    path("jobs/<uuid:job_id>/cancel/", jobs.job_cancel, name="job_cancel"),
]

# User groups (users/views/groups.py) and Policies (users/views/policies.py). Actions on all groups
# take two segments (groups/actions/...), a group's own take four: no group name (one segment,
# it may be "create" or "actions") can shadow them.
urlpatterns += [
    path("groups/", groups.group_list, name="groups"),
    path("groups/actions/create/", groups.group_create, name="group_create"),
    path("groups/actions/delete/", groups.group_delete, name="group_delete"),
    path("groups/<str:name>/", groups.group_detail, name="group_detail"),
    path("groups/<str:name>/users/add/", groups.group_add_users, name="group_add_users"),
    path("groups/<str:name>/users/remove/", groups.group_remove_users, name="group_remove_users"),
    path("groups/<str:name>/permissions/add/", groups.group_add_policies, name="group_add_policies"),
    path("groups/<str:name>/permissions/remove/", groups.group_remove_policies, name="group_remove_policies"),
    path("policies/", policies.policy_list, name="policies"),
    path("policies/details/", policies.policy_detail, name="policy_detail"),
]

# A user's Permissions tab actions (users/views/permissions.py).

_user_permissions = "users/details/<str:name>/permissions/"
urlpatterns += [
    path(_user_permissions + "remove/", permissions.permissions_remove, name="permissions_remove"),
    path(_user_permissions + "add/", permissions.permissions_add, name="permissions_add"),
    path(_user_permissions + "add/review/", permissions.permissions_add_review, name="permissions_add_review"),
    path(_user_permissions + "inline/create/", permissions.inline_policy_create, name="inline_policy_create"),
    path(_user_permissions + "boundary/", permissions.boundary_set, name="boundary_set"),
    path(_user_permissions + "boundary/remove/", permissions.boundary_remove, name="boundary_remove"),
]

# Changes since your last visit (users/views/drift.py): what changed in IAM outside the console.
urlpatterns += [
    path("drift/", drift_views.drift_list, name="drift"),
    path("drift/seen/", drift_views.drift_mark_seen, name="drift_seen"),
]
