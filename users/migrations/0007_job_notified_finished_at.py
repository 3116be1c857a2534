"""Jobs remember whether their operator was told they finished (the top bar's notice)."""

from django.conf import settings
from django.db import migrations, models


def jobs_finished_before_are_told_of(apps, schema_editor):
    """The top bar's notice is for jobs that finish from now on, not for the whole history."""
    job = apps.get_model("users", "Job")
    job.objects.filter(finished_at__isnull=False).update(notified_finished_at=models.F("finished_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("users", "0006_job_item_claim"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="job",
            name="notified_finished_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(
                condition=models.Q(
                    ("finished_at__isnull", True),
                    ("notified_finished_at__isnull", True),
                    ("notified_finished_at__lt", models.F("finished_at")),
                    _connector="OR",
                ),
                fields=["operator"],
                name="job_notice_pending",
            ),
        ),
        migrations.RunPython(jobs_finished_before_are_told_of, migrations.RunPython.noop),
    ]
