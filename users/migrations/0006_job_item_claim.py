"""Job items claimed a chunk at a time (the claim names the run that holds an item); audit
rows keep the time of their call when a job saves them together."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("users", "0005_audit_operator_name"),
    ]

    operations = [
        migrations.AddField(
            model_name="jobitem",
            name="claim",
            field=models.UUIDField(blank=True, db_index=True, null=True),
        ),
        migrations.AddField(
            model_name="jobitem",
            name="interrupted",
            field=models.BooleanField(default=False),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="at",
            field=models.DateTimeField(db_index=True, default=django.utils.timezone.now),
        ),
    ]
