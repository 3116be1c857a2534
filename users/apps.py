from django.apps import AppConfig
from django.db.models.signals import post_migrate


class UsersConfig(AppConfig):
    name = "users"
    verbose_name = "IAM users"

    def ready(self) -> None:
        from users.roles import ensure_roles

        # After migrate, when the app's permissions exist: a post_migrate handler rather
        # than a data migration, which would run before the permission is created.
        post_migrate.connect(ensure_roles, sender=self)
