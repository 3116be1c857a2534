"""Drift (issue 17): each operator's snapshot of IAM's users at their last visit of
"Changes since your last visit", and the changes noticed since (users/drift/)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("users", "0008_job_source_keys"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="DriftVisit",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("scope", models.CharField(max_length=64)),
                ("seen_at", models.DateTimeField()),
                ("report_at", models.DateTimeField(blank=True, null=True)),
                ("snapshot", models.BinaryField()),
                ("pending", models.BinaryField(default=b"")),
                ("pending_count", models.PositiveIntegerField(default=0)),
                (
                    "operator",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("operator", "scope"), name="one_drift_visit_per_operator")
                ],
            },
        ),
    ]
