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
    [event] = publish_many(domain=domain, events=[(type, object)], endpoint=endpoint, test=test)
    return event


def publish_many(
    *,
    domain: Domain,
    events: list[tuple[str, dict[str, Any]]],
    endpoint: Endpoint | None = None,
    test: bool = False,
) -> list[Event]:
    """Record several ``(type, object)`` events of one domain with two INSERTs."""
    for event_type, _ in events:
        catalog.get(event_type)
    now = timezone.now()
    rows = []
    for event_type, obj in events:
        event_id = uuid.uuid4()
        rows.append(Event(id=event_id, domain=domain, type=event_type, created_at=now, test=test,
                          body=envelope(event_id, event_type, obj)))
    with transaction.atomic():
        batch = _current_batch()
        deliveries = [
            Delivery(id=uuid.uuid4(), event=event, endpoint_id=target, domain=domain,
                     event_type=event.type, test=test, next_attempt_at=now, created_at=now)
            for event in rows
            for target in ([endpoint.pk] if endpoint is not None
                           else batch.subscribers(domain.pk, event.type))
        ]
        Event.objects.bulk_create(rows)
        Delivery.objects.bulk_create(deliveries)
        batch.ids.extend(str(d.id) for d in deliveries)
    return rows


def subscribers(domain_id: int, event_type: str) -> list[int]:
    """Return the ids of the domain's enabled endpoints subscribed to ``event_type``."""
    # Filtered in Python: a domain has few endpoints, and SQLite has no JSON
    # containment lookup.
    rows = Endpoint.objects.active().filter(domain_id=domain_id).values_list("id", "event_types")
    return [pk for pk, types in rows if event_type in types]


class _Batch:
    """What one transaction published: delivery ids, sent to the broker once at commit,
    and the subscribers already looked up (endpoint services clear them)."""

    def __init__(self, queue: str | None) -> None:
        self.ids: list[str] = []
        self.queue = queue
        self.callback = self.send
        self._subscribers: dict[tuple[int, str], list[int]] = {}

    def subscribers(self, domain_id: int, event_type: str) -> list[int]:
        key = (domain_id, event_type)
        if key not in self._subscribers:
            self._subscribers[key] = subscribers(domain_id, event_type)
        return self._subscribers[key]

    def send(self) -> None:
        if _local.__dict__.get(self.queue or "") is self:
            del _local.__dict__[self.queue or ""]
        if self.ids:
            enqueue(self.ids, queue=self.queue)


def _current_batch(queue: str | None = None) -> _Batch:
    """Return this transaction's batch, registering its on-commit send the first time."""
    connection = transaction.get_connection()
    batch: _Batch | None = _local.__dict__.get(queue or "")
    registered = batch is not None and any(
        entry[1] is batch.callback for entry in connection.run_on_commit
    )
    if not registered:
        batch = _Batch(queue)
        _local.__dict__[queue or ""] = batch
        transaction.on_commit(batch.callback)
    return batch


def forget_subscribers() -> None:
    """Drop the subscribers cached by the current transaction (an endpoint changed)."""
    for batch in list(_local.__dict__.values()):
        batch._subscribers.clear()


def enqueue_on_commit(ids: list[str], queue: str | None = None) -> None:
    """Hand ``ids`` to Celery when the current transaction commits (one message per batch)."""
    with transaction.atomic():
        _current_batch(queue).ids.extend(ids)


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
