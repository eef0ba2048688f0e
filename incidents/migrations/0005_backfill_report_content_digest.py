"""Fill in the content digest of every stored report, in batches by id."""

from django.db import migrations

BATCH = 2000


def backfill(apps, schema_editor):
    from incidents.models import report_digest

    CounterReport = apps.get_model("incidents", "CounterReport")
    rows = CounterReport.objects.only("pk", "cameras", "box").order_by("pk")
    last = 0
    while True:
        batch = list(rows.filter(pk__gt=last)[:BATCH])
        if not batch:
            return
        for row in batch:
            row.content_digest = report_digest(row.cameras, row.box)
        CounterReport.objects.bulk_update(batch, ["content_digest"])
        last = batch[-1].pk


class Migration(migrations.Migration):
    dependencies = [("incidents", "0004_report_content_digest")]
    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
