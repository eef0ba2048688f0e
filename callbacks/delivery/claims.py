"""Claiming due deliveries: one conditional UPDATE that stamps a claim token and
a lease, so a task that runs twice sends once, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import datetime
import uuid
from collections import defaultdict

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from callbacks.delivery.policy import Job
from callbacks.models import Delivery, DeliveryState


def _room_per_endpoint(endpoint_ids: set[int], now: datetime.datetime) -> dict[int, int]:
    """Return how many more deliveries each endpoint may have in flight."""
    busy = dict(
        Delivery.objects.filter(
            endpoint_id__in=endpoint_ids, state=DeliveryState.SENDING, lease_expires_at__gt=now
        )
        .values("endpoint_id")
        .annotate(n=Count("id"))
        .values_list("endpoint_id", "n")
    )
    cap = settings.CALLBACK_ENDPOINT_INFLIGHT
    return {endpoint_id: max(0, cap - busy.get(endpoint_id, 0)) for endpoint_id in endpoint_ids}


def _interleave(candidates: list[tuple], room: dict[int, int], limit: int) -> list:
    """Pick ids round-robin across endpoints, within each endpoint's room, up to ``limit``."""
    queues: dict[int, list] = defaultdict(list)
    for delivery_id, endpoint_id in candidates:
        if len(queues[endpoint_id]) < room.get(endpoint_id, 0):
            queues[endpoint_id].append(delivery_id)
    chosen: list = []
    while len(chosen) < limit and any(queues.values()):
        for endpoint_id in list(queues):
            if queues[endpoint_id] and len(chosen) < limit:
                chosen.append(queues[endpoint_id].pop(0))
    return chosen


def claim(ids: list[str], limit: int) -> tuple[list[Delivery], list[str], set[int]]:
    """Claim up to ``limit`` of ``ids`` that are pending and due.

    Returns (claimed deliveries with event and endpoint loaded, ids still
    pending that were not taken, endpoints that were at their in-flight cap).
    """
    now = timezone.now()
    candidates = list(
        Delivery.objects.filter(id__in=ids, state=DeliveryState.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("id", "endpoint_id")
    )
    if not candidates:
        return [], [], set()
    room = _room_per_endpoint({endpoint_id for _, endpoint_id in candidates}, now)
    chosen = _interleave(candidates, room, limit)
    capped = {endpoint_id for endpoint_id, free in room.items() if free == 0}
    token = uuid.uuid4()
    if chosen:
        Delivery.objects.filter(
            id__in=chosen, state=DeliveryState.PENDING, next_attempt_at__lte=now
        ).update(
            state=DeliveryState.SENDING,
            claim_token=token,
            lease_expires_at=now + datetime.timedelta(seconds=settings.CALLBACK_LEASE_SECONDS),
        )
    claimed = list(Delivery.objects.filter(claim_token=token).select_related("event", "endpoint"))
    chosen_set = set(chosen)
    leftover = [str(i) for i, _ in candidates if i not in chosen_set]
    return claimed, leftover, capped


def job_for(delivery: Delivery) -> Job:
    """Read what one attempt needs (decrypted headers and secrets) into a Job."""
    endpoint, event = delivery.endpoint, delivery.event
    return Job(
        delivery_id=str(delivery.id),
        endpoint_id=endpoint.pk,
        event_id=str(event.id),
        event_type=event.type,
        event_created_at=event.created_at,
        method=endpoint.method,
        url=endpoint.url,
        headers=dict(endpoint.headers or {}),
        secrets=endpoint.signing_secrets(),
        body=bytes(event.body),
        attempt_number=delivery.attempt_count + 1,
        due_at=delivery.next_attempt_at,
        test=delivery.test,
        extra={"claim_token": str(delivery.claim_token), "replay": delivery.replay},
    )
