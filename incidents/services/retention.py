"""Raw counter reports are kept a week; per-minute sums and incidents stay longer."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.utils import timezone

from callbacks.services.retention import delete_in_batches
from incidents.models import CounterMinute, CounterReport


def retention_purge(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """Delete reports (with their samples) and minute sums past their retention."""
    now = now or timezone.now()
    reports = CounterReport.objects.filter(
        received_at__lt=now - datetime.timedelta(days=settings.INCIDENT_REPORT_RETENTION_DAYS)
    )
    minutes = CounterMinute.objects.filter(
        minute__lt=now - datetime.timedelta(days=settings.INCIDENT_ROLLUP_RETENTION_DAYS)
    )
    return {
        "reports": delete_in_batches(reports),
        "minutes": delete_in_batches(minutes),
    }
