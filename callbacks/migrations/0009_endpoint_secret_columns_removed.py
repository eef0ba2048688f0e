"""The secrets live in SigningKey rows now (0008): drop the endpoint's old columns. Its own
migration, so the rows written by 0008 are committed before the table is altered."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('callbacks', '0008_signing_keys'),
    ]

    operations = [
        migrations.RemoveField(
            model_name='endpoint',
            name='previous_secret',
        ),
        migrations.RemoveField(
            model_name='endpoint',
            name='previous_secret_expires_at',
        ),
        migrations.RemoveField(
            model_name='endpoint',
            name='secret',
        ),
    ]
