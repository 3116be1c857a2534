"""Audit rows keep the operator's user name as text, so that deleting an operator changes no
row (the foreign key, SET_NULL, used to blank it); indexes for the audit page's filters."""

from typing import Any

from django.conf import settings
from django.db import migrations, models


def fill_operator_name(apps: Any, schema_editor: Any) -> None:
    """Copy each existing row's operator user name into operator_name (historical models:
    the immutable queryset does not apply here)."""
    AuditEvent = apps.get_model("users", "AuditEvent")
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    username = User.objects.filter(pk=models.OuterRef("operator_id")).values("username")[:1]
    AuditEvent.objects.filter(operator__isnull=False).update(operator_name=models.Subquery(username))


class Migration(migrations.Migration):
    dependencies = [
        ("users", "0004_list_preferences"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="operator_name",
            field=models.CharField(blank=True, max_length=150),
        ),
        migrations.RunPython(fill_operator_name, migrations.RunPython.noop, elidable=True),
        migrations.RemoveField(model_name="auditevent", name="operator"),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["target", "at"], name="audit_target_at"),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["operator_name", "at"], name="audit_operator_at"),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["action", "at"], name="audit_action_at"),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["outcome", "at"], name="audit_outcome_at"),
        ),
    ]
