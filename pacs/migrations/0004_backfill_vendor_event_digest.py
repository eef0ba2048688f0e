"""Fill in the digest of every stored event's vendor id, in batches.

Ids were cut to 128 characters before: for a stored id of exactly 128, the whole id
is read again from the vendor's event (kept unchanged in ``body``) when it extends
the stored one, so a later copy of that event is still found as its duplicate."""

from django.db import migrations

BATCH = 2000
CUT = 128


def _whole_id(row) -> str:
    from pacs.vendors import NORMALIZERS, NormalizeError

    stored, vendor = row.vendor_event_id, row.integration.vendor
    if len(stored) != CUT or vendor not in NORMALIZERS:
        return stored
    raw = {k: v for k, v in row.body.items() if k != "camio_metadata"}
    try:
        whole = NORMALIZERS[vendor].normalize(raw, row.integration.time_zone).vendor_event_id
    except NormalizeError:
        return stored
    return whole if whole.startswith(stored) else stored


def backfill(apps, schema_editor):
    from pacs.models import vendor_id_digest

    PacsEvent = apps.get_model("pacs", "PacsEvent")
    # The body is read only for the few ids that may have been cut (a query each).
    rows = (
        PacsEvent.objects.select_related("integration")
        .only("pk", "vendor_event_id", "integration__vendor", "integration__time_zone")
        .order_by("pk")
    )
    last = None
    while True:
        page = rows.filter(pk__gt=last) if last is not None else rows
        batch = list(page[:BATCH])
        if not batch:
            return
        for row in batch:
            row.vendor_event_id = _whole_id(row)
            row.vendor_event_digest = vendor_id_digest(row.vendor_event_id)
        PacsEvent.objects.bulk_update(batch, ["vendor_event_id", "vendor_event_digest"])
        last = batch[-1].pk


class Migration(migrations.Migration):
    dependencies = [("pacs", "0003_vendor_event_digest")]
    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
