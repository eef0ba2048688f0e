"""Each vendor's default label map (pacs.vendors: default_labels)."""

from django.db import migrations


def create_defaults(apps, schema_editor):
    from pacs.vendors import NORMALIZERS

    PacsLabel = apps.get_model("pacs", "PacsLabel")
    for vendor, normalizer in NORMALIZERS.items():
        for code, label in normalizer.default_labels.items():
            PacsLabel.objects.get_or_create(vendor=vendor, code=code, defaults={"label": label})


def remove_defaults(apps, schema_editor):
    apps.get_model("pacs", "PacsLabel").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("pacs", "0001_integrations_devices_events")]
    operations = [migrations.RunPython(create_defaults, remove_defaults)]
