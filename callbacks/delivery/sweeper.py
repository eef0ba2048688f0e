"""The delivery sweeper (beat, every CALLBACK_SWEEP_INTERVAL, on the delivery queue):
takes back deliveries whose lease expired and re-enqueues those overdue by more
than one interval (retries due more than an hour out, lost messages), bounded.

A delivery taken back was being sent by a worker that stopped (killed, or lost its
database): the receiver may have got that request. The sweeper logs it as an attempt
whose outcome is unknown, so the attempt log shows every request that may have
reached the receiver. It takes the next attempt number and uses no slot of the
retry schedule; it counts in no health figure and no hourly rollup.
"""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from callbacks.delivery.outbox import enqueue_deliveries
from callbacks.models import Attempt, Delivery, DeliveryState, Heartbeat
from domains.formats import mask_url

log = logging.getLogger(__name__)

UNKNOWN_OUTCOME = (
    "Outcome unknown: the worker stopped while sending (its lease expired at {expired} UTC); "
    "the receiver may have got this request. It is sent again."
)


def take_back(now: datetime.datetime, limit: int) -> int:
    """Return expired leases to pending, logging an outcome-unknown attempt for each."""
    lease = datetime.timedelta(seconds=settings.CALLBACK_LEASE_SECONDS)
    with transaction.atomic():
        rows = list(
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(state=DeliveryState.SENDING, lease_expires_at__lt=now)
            .order_by()
            .values_list("id", "attempt_count", "next_attempt_at", "lease_expires_at",
                         "event_id", "endpoint__method", "endpoint__url")[:limit]
        )
        if not rows:
            return 0
        Attempt.objects.bulk_create(
            Attempt(
                delivery_id=pk,
                number=count + 1,
                due_at=due,
                started_at=expires - lease,  # when the worker claimed it
                finished_at=expires - lease,
                duration_ms=0,
                request_method=method,
                request_url=mask_url(url)[:2048],
                request_headers=[["webhook-id", str(event_id)]],
                error=UNKNOWN_OUTCOME.format(expired=f"{expires:%Y-%m-%d %H:%M:%S}")[:500],
                outcome_unknown=True,
            )
            for pk, count, due, expires, event_id, method, url in rows
        )
        Delivery.objects.filter(id__in=[row[0] for row in rows]).update(
            state=DeliveryState.PENDING,
            claim_token=None,
            lease_expires_at=None,
            attempt_count=F("attempt_count") + 1,
            unknown_attempts=F("unknown_attempts") + 1,
            last_error="Outcome unknown: the worker stopped while sending.",
            last_status_code=None,
        )
    return len(rows)


def sweep() -> dict[str, int]:
    """Recover abandoned and overdue deliveries and re-enqueue them (bounded)."""
    now = timezone.now()
    interval = datetime.timedelta(seconds=settings.CALLBACK_SWEEP_INTERVAL)
    expired = take_back(now, settings.CALLBACK_SWEEP_LIMIT)
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
