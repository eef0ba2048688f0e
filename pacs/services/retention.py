"""PACS events older than PACS_EVENT_RETENTION_DAYS go, in batches."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.utils import timezone

from callbacks.services.retention import delete_in_batches
from pacs.models import PacsEvent


def retention_purge(*, now: datetime.datetime | None = None) -> int:
    """Delete PACS events older than PACS_EVENT_RETENTION_DAYS, in batches."""
    cutoff = (now or timezone.now()) - datetime.timedelta(days=settings.PACS_EVENT_RETENTION_DAYS)
    return delete_in_batches(PacsEvent.objects.filter(received_at__lt=cutoff))
