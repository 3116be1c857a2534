"""Jobs may deactivate access keys (the access-key hygiene page, issue 17): a third source."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("users", "0007_job_notified_finished_at")]

    operations = [
        migrations.AlterField(
            model_name="job",
            name="source",
            field=models.CharField(
                choices=[
                    ("wizard", "Add user wizard"),
                    ("import", "Import users"),
                    ("keys", "Deactivate access keys"),
                ],
                max_length=16,
            ),
        ),
    ]
