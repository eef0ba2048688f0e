"""The outbox, the bottom of the delivery engine: ``publish`` records events and
their deliveries in the caller's transaction, and ``enqueue`` hands ids to the
broker after commit.

``publish`` writes one immutable Event and one Delivery per subscribed, enabled
endpoint of the domain. After commit, the new delivery ids (only ids) go to
Celery, batched per transaction; if the broker is down the error is logged and
the sweeper sends them later. ``enqueue`` is the one way every app hands ids to
a task: by task name (so nothing here imports the tasks above it), in chunks,
never raising.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Sequence
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from callbacks import catalog
from callbacks.models import Delivery, Endpoint, Event
from domains.models import Domain

log = logging.getLogger(__name__)
_local = threading.local()

DELIVER_TASK = "callbacks.deliver"


def enqueue(
    task: str,
    ids: Sequence[Any],
    *,
    queue: str | None = None,
    countdown: float | None = None,
    chunk: int = 200,
) -> int:
    """Send ``ids`` to ``task`` in chunks; log and swallow broker errors.

    The rows behind the ids are safe in the database, and each app's sweeper
    picks up what was not sent. Returns how many ids were handed over.
    """
    sent = 0
    for start in range(0, len(ids), chunk):
        part = list(ids[start : start + chunk])
        try:
            # argsrepr given: Celery would otherwise format the whole list for its logs.
            current_app.send_task(task, args=[part], queue=queue, countdown=countdown,
                                  argsrepr=f"[{len(part)} ids]", kwargsrepr="{}")
        except Exception:  # the broker is down: the rows are safe, the sweeper sends them
            log.exception("enqueue of %d ids to %s failed; they are stored and the sweeper "
                          "will send them", len(part), task)
        else:
            sent += len(part)
    return sent


def enqueue_deliveries(ids: Sequence[str | list], *, replay: bool = False,
                       countdown: float | None = None) -> int:
    """Hand delivery ids (``[id, endpoint id]`` pairs, or bare ids) to the senders; replays
    go to their own, lower-priority queue."""
    queue = settings.CALLBACK_REPLAY_DELIVERY_QUEUE if replay else None
    return enqueue(DELIVER_TASK, ids, queue=queue, countdown=countdown,
                   chunk=settings.CALLBACK_BATCH_SIZE)


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
        if event_type not in catalog.BY_NAME:
            raise ValueError(f"{event_type!r} is not an event type.")
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
        batch.ids.extend([str(d.id), d.endpoint_id] for d in deliveries)
    return rows


def subscribers(domain_id: int, event_type: str) -> list[int]:
    """Return the ids of the domain's enabled endpoints subscribed to ``event_type``."""
    # Filtered in Python: a domain has few endpoints, and SQLite has no JSON
    # containment lookup.
    endpoints = Endpoint.objects.filter(domain_id=domain_id, deleted_at=None, enabled=True)
    rows = endpoints.values_list("id", "event_types")
    return [pk for pk, types in rows if event_type in types]


class _Batch:
    """What one transaction published: delivery ids, sent to the broker once at commit,
    and the subscribers already looked up (endpoint services clear them)."""

    def __init__(self, replay: bool) -> None:
        self.ids: list[list] = []  # [delivery id, endpoint id]
        self.replay = replay
        self.callback = self.send
        self._subscribers: dict[tuple[int, str], list[int]] = {}

    def subscribers(self, domain_id: int, event_type: str) -> list[int]:
        key = (domain_id, event_type)
        if key not in self._subscribers:
            self._subscribers[key] = subscribers(domain_id, event_type)
        return self._subscribers[key]

    def send(self) -> None:
        if _local.__dict__.get(_slot(self.replay)) is self:
            del _local.__dict__[_slot(self.replay)]
        if self.ids:
            enqueue_deliveries(self.ids, replay=self.replay)


def _slot(replay: bool) -> str:
    return "replay" if replay else "fresh"


def _current_batch(replay: bool = False) -> _Batch:
    """Return this transaction's batch, registering its on-commit send the first time."""
    connection = transaction.get_connection()
    batch: _Batch | None = _local.__dict__.get(_slot(replay))
    registered = batch is not None and any(
        entry[1] is batch.callback for entry in connection.run_on_commit
    )
    if batch is None or not registered:
        batch = _Batch(replay)
        _local.__dict__[_slot(replay)] = batch
        transaction.on_commit(batch.callback)
    return batch


def forget_subscribers() -> None:
    """Drop the subscribers cached by the current transaction (an endpoint changed)."""
    for batch in list(_local.__dict__.values()):
        batch._subscribers.clear()


def enqueue_on_commit(deliveries: Sequence[Delivery], *, replay: bool = False) -> None:
    """Hand deliveries to the senders when the current transaction commits (one message
    per batch)."""
    with transaction.atomic():
        _current_batch(replay).ids.extend([str(d.id), d.endpoint_id] for d in deliveries)
