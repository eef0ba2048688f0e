"""A report without an id is one per (Box, time, content) (in a migration of its own, so
the index is built after the backfill's transaction has committed)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("incidents", "0005_backfill_report_content_digest")]

    operations = [
        migrations.AddConstraint(
            model_name="counterreport",
            constraint=models.UniqueConstraint(
                condition=models.Q(("report_id", "")),
                fields=("device", "reported_at", "content_digest"),
                name="one_report_per_time_and_content",
            ),
        ),
    ]
