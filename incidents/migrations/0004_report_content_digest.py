"""P9 (6): a report without a report_id is a duplicate only of one of the same Box, time
and content, no longer of any report of the same time (a Box posting each camera's
report at one time lost all but the first). The old unique (Box, time) goes and each
report gets the digest of its content; 0005 fills it in, 0006 makes (Box, time, digest)
unique for reports without an id."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("incidents", "0003_evaluation_leases")]

    operations = [
        migrations.RemoveConstraint(model_name="counterreport", name="one_report_per_time"),
        migrations.AddField(
            model_name="counterreport",
            name="content_digest",
            field=models.CharField(
                default="",
                editable=False,
                help_text="SHA-256 of cameras and box (report_digest).",
                max_length=64,
            ),
            preserve_default=False,
        ),
    ]
