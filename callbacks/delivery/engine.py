"""What the Celery tasks do: claim and hand over deliveries, follow up retries,
sweep overdue and abandoned work, and send one delivery synchronously."""

from __future__ import annotations

import datetime
import logging
import math
from collections import defaultdict

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from callbacks.delivery.claims import claim
from callbacks.delivery.dispatcher import get_dispatcher
from callbacks.delivery.policy import Result
from callbacks.delivery.recording import record
from callbacks.delivery.transport import send_sync
from callbacks.models import Delivery, DeliveryState, Heartbeat
from callbacks.publish import enqueue

log = logging.getLogger(__name__)


def deliver(ids: list[str]) -> int:
    """Hand ``ids`` to this process's sender, which claims what is due and sends it."""
    return get_dispatcher().accept(ids)


def schedule_retries(retries: list[tuple[str, float]]) -> None:
    """Enqueue retries due within the hour with a countdown; later ones wait for the sweeper."""
    buckets: dict[int, list[str]] = defaultdict(list)
    for delivery_id, seconds in retries:
        if seconds <= 3600:
            buckets[math.ceil(seconds)].append(delivery_id)
    for seconds, ids in buckets.items():
        enqueue(ids, countdown=seconds or None)


def sweep() -> dict[str, int]:
    """Recover abandoned and overdue deliveries and re-enqueue them (bounded)."""
    now = timezone.now()
    interval = datetime.timedelta(seconds=settings.CALLBACK_SWEEP_INTERVAL)
    expired = Delivery.objects.filter(state=DeliveryState.SENDING, lease_expires_at__lt=now).update(
        state=DeliveryState.PENDING, claim_token=None, lease_expires_at=None
    )
    overdue = list(
        Delivery.objects.filter(
            Q(state=DeliveryState.PENDING) & Q(next_attempt_at__lte=now - interval)
        )
        .order_by("next_attempt_at")
        .values_list("id", "replay")[: settings.CALLBACK_SWEEP_LIMIT]
    )
    fresh = [str(i) for i, replay in overdue if not replay]
    replays = [str(i) for i, replay in overdue if replay]
    enqueue(fresh)
    enqueue(replays, queue=settings.CALLBACK_REPLAY_QUEUE)
    Heartbeat.objects.update_or_create(name="sweeper", defaults={"at": now})
    if expired or overdue:
        log.info("sweep expired_leases=%d requeued=%d", expired, len(overdue))
    return {"expired_leases": expired, "requeued": len(overdue)}


def send_now(delivery: Delivery) -> Result | None:
    """Claim and send one delivery in this process with requests; record the result."""
    taken = claim([str(delivery.pk)], 1)
    if not taken.jobs:
        return None
    result = send_sync(taken.jobs[0])
    record([result])
    return result
