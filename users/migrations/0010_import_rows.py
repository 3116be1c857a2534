"""Import rows keep their cells (for the file of the rows with errors), and an import the
operator started with only its valid rows counts the rows it skipped (issue 17)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("users", "0009_drift")]

    operations: list[migrations.operations.base.Operation] = [
        migrations.AddField(
            model_name="userimport",
            name="rows_skipped",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="importrow",
            name="values",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
