"""One stored event per vendor id of an integration, by the id's digest (in a migration
of its own, so the index is built after the backfill's transaction has committed)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("pacs", "0004_backfill_vendor_event_digest")]

    operations = [
        migrations.AddConstraint(
            model_name="pacsevent",
            constraint=models.UniqueConstraint(
                condition=models.Q(("vendor_event_digest", ""), _negated=True),
                fields=("integration", "vendor_event_digest"),
                name="one_pacs_event_per_vendor_digest",
            ),
        ),
    ]
