"""The delivery sweeper (beat, every CALLBACK_SWEEP_INTERVAL, on the delivery queue):
takes back deliveries whose lease expired and re-enqueues those overdue by more
than one interval (retries due more than an hour out, lost messages), bounded."""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.utils import timezone

from callbacks.delivery.outbox import enqueue_deliveries
from callbacks.models import Delivery, DeliveryState, Heartbeat

log = logging.getLogger(__name__)


def sweep() -> dict[str, int]:
    """Recover abandoned and overdue deliveries and re-enqueue them (bounded)."""
    now = timezone.now()
    interval = datetime.timedelta(seconds=settings.CALLBACK_SWEEP_INTERVAL)
    expired = Delivery.objects.filter(state=DeliveryState.SENDING, lease_expires_at__lt=now).update(
        state=DeliveryState.PENDING, claim_token=None, lease_expires_at=None
    )
    overdue = list(
        Delivery.objects.filter(state=DeliveryState.PENDING, next_attempt_at__lte=now - interval)
        .order_by("next_attempt_at")
        .values_list("id", "endpoint_id", "replay")[: settings.CALLBACK_SWEEP_LIMIT]
    )
    enqueue_deliveries([[str(pk), endpoint] for pk, endpoint, replay in overdue if not replay])
    enqueue_deliveries([[str(pk), endpoint] for pk, endpoint, replay in overdue if replay],
                       replay=True)
    Heartbeat.objects.update_or_create(name="sweeper", defaults={"at": now})
    if expired or overdue:
        log.info("sweep expired_leases=%d requeued=%d", expired, len(overdue))
    return {"expired_leases": expired, "requeued": len(overdue)}
