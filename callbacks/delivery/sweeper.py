"""The delivery sweeper (beat, every CALLBACK_SWEEP_INTERVAL, on the delivery queue):
takes back the claims of stopped workers (callbacks.delivery.workers; the live
delivery workers do it too, each heartbeat) and of expired leases, and picks the
probes of open circuits. Due deliveries need no sweeping: the delivery workers scan
for them (callbacks.delivery.outbox).

Deliveries of an endpoint whose circuit is open wait (the claim leaves them); when its
next probe is due, the sweeper picks the endpoint's oldest due delivery (first of its
key on an ordered endpoint) as the probe and wakes the workers, which claim it.
"""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from callbacks.delivery.claims import behind_in_order
from callbacks.delivery.outbox import wake
from callbacks.delivery.workers import take_back, take_back_dead
from callbacks.models import Delivery, DeliveryState, Endpoint, Heartbeat

log = logging.getLogger(__name__)

def take_back_expired(now: datetime.datetime, limit: int) -> int:
    """Return claims whose lease expired to pending (the last resort: a claim of a worker
    that never heartbeated), logging an outcome-unknown attempt for each."""
    why = f"its lease had expired by {now:%Y-%m-%d %H:%M:%S} UTC"
    return len(take_back(Q(lease_expires_at__lt=now), now, why, limit))


def sweep() -> dict[str, int]:
    """Take back what stopped workers held and pick the probes of open circuits."""
    now = timezone.now()
    dead = len(take_back_dead(now))
    expired = take_back_expired(now, settings.CALLBACK_SWEEP_LIMIT) + dead
    probes = pick_probes(now)
    wake(probes)
    Heartbeat.objects.update_or_create(name="sweeper", defaults={"at": now})
    if expired or probes:
        log.info("sweep taken_back=%d probes=%d", expired, len(probes))
    return {"taken_back": expired, "probes": len(probes)}


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
