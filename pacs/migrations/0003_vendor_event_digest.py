"""P9 (4): the vendor's event id is stored whole (up to 255 characters) and duplicates
are found by its SHA-256 digest. The old unique (integration, vendor_event_id) goes;
0004 fills the digest in, 0005 makes it unique."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("pacs", "0002_default_labels")]

    operations = [
        migrations.RemoveConstraint(model_name="pacsevent", name="one_pacs_event_per_vendor_id"),
        migrations.AddField(
            model_name="pacsevent",
            name="vendor_event_digest",
            field=models.CharField(
                blank=True,
                editable=False,
                help_text="SHA-256 of vendor_event_id.",
                max_length=64,
            ),
        ),
        migrations.AlterField(
            model_name="pacsevent",
            name="vendor_event_id",
            field=models.CharField(blank=True, max_length=255),
        ),
    ]
