"""Events past RETENTION_EVENTS_DAYS go, with their deliveries and attempts; and the one
batch-delete loop every app's retention uses."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from callbacks.models import Event


def delete_in_batches(queryset: models.QuerySet, batch: int | None = None) -> int:
    """Delete the rows of ``queryset`` a batch at a time (RETENTION_BATCH by default), each
    batch in its own short transaction, so no lock is held long; return how many went."""
    size = batch or settings.RETENTION_BATCH
    total = 0
    while True:
        ids = list(queryset.values_list("pk", flat=True)[:size])
        if not ids:
            return total
        with transaction.atomic():
            queryset.model._base_manager.filter(pk__in=ids).delete()
        total += len(ids)


def retention_purge(*, now: datetime.datetime | None = None) -> int:
    """Delete events (with their deliveries and attempts) past retention, in batches."""
    cutoff = (now or timezone.now()) - datetime.timedelta(days=settings.RETENTION_EVENTS_DAYS)
    return delete_in_batches(Event.objects.filter(created_at__lt=cutoff))
