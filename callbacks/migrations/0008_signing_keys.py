"""Signing keys as rows (P13): each endpoint's ``secret``, and its ``previous_secret`` while
that still signs, become SigningKey rows holding the same secrets, so every endpoint signs
exactly as before. 0009 then drops the old columns."""

import datetime

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

import callbacks.encrypted_fields
import domains.models

BATCH = 500


def rows_for(endpoint, key_model, now):
    """The endpoint's keys: the previous secret while it signs, then the current one."""
    rows = []
    created = endpoint.created_at
    ends = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and ends and ends > now:
        rows.append(key_model(endpoint_id=endpoint.pk, secret=endpoint.previous_secret,
                              created_at=created, expires_at=ends))
        # Rotated one overlap before the previous secret's end (as near as can be known).
        overlap = datetime.timedelta(hours=settings.CALLBACK_SECRET_OVERLAP_HOURS)
        created = min(max(created, ends - overlap), now)
    rows.append(key_model(endpoint_id=endpoint.pk, secret=endpoint.secret, created_at=created))
    return rows


def keys_from_columns(apps, schema_editor):
    Endpoint = apps.get_model("callbacks", "Endpoint")
    SigningKey = apps.get_model("callbacks", "SigningKey")
    now = django.utils.timezone.now()
    rows = []
    for endpoint in Endpoint.objects.order_by("pk").iterator(chunk_size=BATCH):
        rows += rows_for(endpoint, SigningKey, now)
        if len(rows) >= BATCH:
            SigningKey.objects.bulk_create(rows)
            rows = []
    SigningKey.objects.bulk_create(rows)


def columns_from_keys(apps, schema_editor):
    """Back to two columns: the current key, and the newest older key that still signs (a
    third one, if any, is dropped)."""
    Endpoint = apps.get_model("callbacks", "Endpoint")
    SigningKey = apps.get_model("callbacks", "SigningKey")
    now = django.utils.timezone.now()
    for endpoint in Endpoint.objects.order_by("pk").iterator(chunk_size=BATCH):
        keys = SigningKey.objects.filter(endpoint_id=endpoint.pk, scheme="hmac")
        endpoint.secret = keys.get(expires_at=None).secret
        older = keys.filter(expires_at__gt=now).order_by("-created_at", "-id").first()
        endpoint.previous_secret = older.secret if older else None
        endpoint.previous_secret_expires_at = older.expires_at if older else None
        endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at"])


class Migration(migrations.Migration):

    dependencies = [
        ('callbacks', '0007_delivery_outcomes_and_latency'),
    ]

    operations = [
        migrations.CreateModel(
            name='SigningKey',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key_id', models.CharField(default=domains.models.new_public_id, editable=False, max_length=32, unique=True)),
                ('scheme', models.CharField(choices=[('hmac', 'HMAC-SHA256 (Standard Webhooks v1)')], default='hmac', max_length=16)),
                ('secret', callbacks.encrypted_fields.EncryptedTextField()),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('expires_at', models.DateTimeField(blank=True, null=True, verbose_name='stops signing at')),
                ('endpoint', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='signing_keys', to='callbacks.endpoint')),
            ],
            options={
                'ordering': ['-created_at', '-id'],
                'constraints': [models.UniqueConstraint(condition=models.Q(('expires_at', None)), fields=('endpoint', 'scheme'), name='one_current_key_per_scheme')],
            },
        ),
        # Nullable from here on, so that going back (0009 reversed) can add the column again
        # before columns_from_keys fills it in.
        migrations.AlterField(
            model_name='endpoint',
            name='secret',
            field=callbacks.encrypted_fields.EncryptedTextField(null=True),
        ),
        migrations.RunPython(keys_from_columns, columns_from_keys),
    ]
