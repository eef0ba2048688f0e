"""The delivery sweeper (beat, every CALLBACK_SWEEP_INTERVAL, on the delivery queue):
takes back deliveries whose lease expired and re-enqueues those overdue by more
than one interval (retries due more than an hour out, lost messages), bounded.

A delivery taken back was being sent by a worker that stopped (killed, or lost its
database): the receiver may have got that request. The sweeper logs it as an attempt
whose outcome is unknown, so the attempt log shows every request that may have
reached the receiver. It takes the next attempt number and uses no slot of the
retry schedule; it counts in no health figure and no hourly rollup.

Deliveries of an endpoint whose circuit is open wait (they are not re-enqueued);
when its next probe is due, the sweeper picks the endpoint's oldest due delivery
(first of its key on an ordered endpoint) as the probe and sends it. Deliveries
behind an earlier one of their key are not re-enqueued either: the recorder hands
each on when the one before it finishes.
"""

from __future__ import annotations

import datetime
import logging
from typing import cast

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from callbacks.delivery.claims import behind_in_order, held_back
from callbacks.delivery.outbox import enqueue_deliveries
from callbacks.models import Attempt, Delivery, DeliveryState, Endpoint, Heartbeat
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
                # When the worker claimed it; the filter matched lease_expires_at, so it is set.
                started_at=cast(datetime.datetime, expires) - lease,
                finished_at=cast(datetime.datetime, expires) - lease,
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
            off_schedule_attempts=F("off_schedule_attempts") + 1,
            last_error="Outcome unknown: the worker stopped while sending.",
            last_status_code=None,
        )
    return len(rows)


def sweep() -> dict[str, int]:
    """Recover abandoned and overdue deliveries and re-enqueue them (bounded)."""
    now = timezone.now()
    interval = datetime.timedelta(seconds=settings.CALLBACK_SWEEP_INTERVAL)
    expired = take_back(now, settings.CALLBACK_SWEEP_LIMIT)
    probes = pick_probes(now)
    overdue = list(
        Delivery.objects.filter(state=DeliveryState.PENDING, next_attempt_at__lte=now - interval)
        .exclude(held_back(now))  # open circuits (all but their probe) and pauses wait
        .exclude(behind_in_order())  # the one before them in their key's order goes first
        .order_by("next_attempt_at")
        .values_list("id", "endpoint_id", "replay")[: settings.CALLBACK_SWEEP_LIMIT]
    )
    enqueue_deliveries([[str(pk), endpoint] for pk, endpoint, replay in overdue if not replay])
    enqueue_deliveries([[str(pk), endpoint] for pk, endpoint, replay in overdue if replay],
                       replay=True)
    enqueue_deliveries(probes)
    Heartbeat.objects.update_or_create(name="sweeper", defaults={"at": now})
    if expired or overdue or probes:
        log.info("sweep expired_leases=%d requeued=%d probes=%d", expired, len(overdue),
                 len(probes))
    return {"expired_leases": expired, "requeued": len(overdue), "probes": len(probes)}


def pick_probes(now: datetime.datetime, endpoint_ids: list[int] | None = None) -> list[list]:
    """For each open circuit whose probe is due, pick its oldest due delivery as the
    probe (one at a time: the next is picked after the interval); return [id, endpoint]
    pairs to enqueue. Given ``endpoint_ids`` ("probe now"), probe those at once, with
    their oldest waiting delivery even if its retry is not due yet."""
    circuits = Endpoint.objects.active().filter(circuit_opened_at__isnull=False)
    circuits = (circuits.filter(pk__in=endpoint_ids) if endpoint_ids is not None
                else circuits.filter(next_probe_at__lte=now))
    picked: list[list] = []
    for pk, interval in circuits.values_list("pk", "probe_interval"):
        waiting = Delivery.objects.filter(endpoint_id=pk, state=DeliveryState.PENDING,
                                          test=False).exclude(behind_in_order())
        if endpoint_ids is None:
            waiting = waiting.filter(next_attempt_at__lte=now)
        probe = waiting.order_by("next_attempt_at").values_list("id", flat=True).first()
        if probe is not None and endpoint_ids is not None:
            Delivery.objects.filter(pk=probe, next_attempt_at__gt=now).update(next_attempt_at=now)
        wait = datetime.timedelta(seconds=interval or settings.CALLBACK_BREAKER_PROBE_MIN)
        Endpoint.objects.filter(pk=pk).update(probe_delivery_id=probe, next_probe_at=now + wait)
        if probe is not None:
            picked.append([str(probe), pk])
    return picked
