from django.apps import AppConfig
from django.db.models.signals import post_migrate


class UsersConfig(AppConfig):
    name = "users"
    verbose_name = "IAM users"

    def ready(self) -> None:
        from axes.signals import user_locked_out
        from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

        from iamconsole.sessions import stamp_sign_in
        from users import audit
        from users.roles import ensure_roles

        # After migrate, when the app's permissions exist: a post_migrate handler rather
        # than a data migration, which would run before the permission is created.
        post_migrate.connect(ensure_roles, sender=self)
        # The audit trail's sign-in events (users/audit.py).
        user_logged_in.connect(audit.on_signed_in, dispatch_uid="audit-sign-in")
        user_logged_out.connect(audit.on_signed_out, dispatch_uid="audit-sign-out")
        user_login_failed.connect(audit.on_sign_in_failed, dispatch_uid="audit-sign-in-failed")
        user_locked_out.connect(audit.on_locked_out, dispatch_uid="audit-locked-out")
        # The absolute session lifetime counts from here (iamconsole/sessions.py).
        user_logged_in.connect(stamp_sign_in, dispatch_uid="session-sign-in-time")
