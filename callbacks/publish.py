"""publish(): the transactional outbox.

Writes one immutable Event and one Delivery per subscribed, enabled endpoint
of the domain, in the caller's transaction. After commit, the new delivery ids
(only ids) go to Celery, batched per transaction; if the broker is down the
error is logged and the sweeper sends them later.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from callbacks import catalog
from callbacks.models import Delivery, Endpoint, Event
from domains.models import Domain

log = logging.getLogger(__name__)
_local = threading.local()


def envelope(event_id: uuid.UUID, event_type: str, obj: dict[str, Any]) -> bytes:
    """Serialize the callback body once: {"data": {"object": ...}, "id": ..., "type": ...}."""
    body = {"data": {"object": obj}, "id": str(event_id), "type": event_type}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def publish(
    *,
    domain: Domain,
    type: str,
    object: dict[str, Any],
    endpoint: Endpoint | None = None,
    test: bool = False,
) -> Event:
    """Record an event of ``type`` for ``domain`` and its deliveries; send after commit.

    ``endpoint`` restricts the fan-out to one endpoint (test events).
    """
    catalog.get(type)
    now = timezone.now()
    event = Event(id=uuid.uuid4(), domain=domain, type=type, created_at=now, test=test)
    event.body = envelope(event.id, type, object)
    targets = [endpoint] if endpoint is not None else subscribers(domain, type)
    deliveries = [
        Delivery(
            id=uuid.uuid4(),
            event=event,
            endpoint=target,
            domain=domain,
            event_type=type,
            test=test,
            next_attempt_at=now,
            created_at=now,
        )
        for target in targets
    ]
    with transaction.atomic():
        event.save(force_insert=True)
        Delivery.objects.bulk_create(deliveries)
        if deliveries:
            enqueue_on_commit([str(d.id) for d in deliveries])
    return event


def subscribers(domain: Domain, event_type: str) -> list[Endpoint]:
    """Return the domain's enabled endpoints subscribed to ``event_type``."""
    # Filtered in Python: a domain has few endpoints, and SQLite has no JSON
    # containment lookup.
    rows = Endpoint.objects.active().filter(domain=domain).only("id", "event_types")
    return [row for row in rows if event_type in row.event_types]


class _Batch:
    """Delivery ids published in one transaction, sent to the broker once at commit."""

    def __init__(self, queue: str | None) -> None:
        self.ids: list[str] = []
        self.queue = queue
        self.callback = self.send

    def send(self) -> None:
        if _local.__dict__.get("batch") is self:
            _local.batch = None
        enqueue(self.ids, queue=self.queue)


def enqueue_on_commit(ids: list[str], queue: str | None = None) -> None:
    """Hand ``ids`` to Celery when the current transaction commits (one message per batch)."""
    connection = transaction.get_connection()
    batch: _Batch | None = getattr(_local, "batch", None)
    registered = (
        batch is not None
        and batch.queue == queue
        and any(entry[1] is batch.callback for entry in connection.run_on_commit)
    )
    if not registered:
        batch = _Batch(queue)
        _local.batch = batch
        batch.ids.extend(ids)
        transaction.on_commit(batch.callback)
    else:
        batch.ids.extend(ids)


def enqueue(ids: list[str], queue: str | None = None, countdown: float | None = None) -> None:
    """Send delivery ids to the sender task in batches; never raise (the sweeper catches up)."""
    from callbacks.tasks import deliver

    size = settings.CALLBACK_BATCH_SIZE
    for start in range(0, len(ids), size):
        chunk = ids[start : start + size]
        try:
            deliver.apply_async(args=[chunk], queue=queue, countdown=countdown)
        except Exception:  # the broker is down: the rows are safe, the sweeper sends them
            log.exception(
                "enqueue failed for %d deliveries; the sweeper will send them", len(chunk)
            )
