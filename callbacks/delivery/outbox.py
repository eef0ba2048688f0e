"""The outbox, the bottom of the delivery engine: ``publish`` records events and
their deliveries in the caller's transaction, and ``enqueue`` hands ids to the
broker after commit.

``publish`` writes one immutable Event and one Delivery per subscribed, enabled
endpoint of the domain. After commit, the new delivery ids (only ids) go to
Celery, batched per transaction; if the broker is down the error is logged and
the sweeper sends them later. ``enqueue`` is the one way every app hands ids to
a task: by task name (so nothing here imports the tasks above it), in chunks,
never raising.

Ordering: each event carries the order key its producer gives (``box:<device_id>``,
``user:<user_id>``, ``pacs:<integration_id>``, ...). For an endpoint whose
``ordering`` is ``per_key``, each of its deliveries takes the next number of that
endpoint and key from a row-locked counter (``OrderCounter``), in the publishing
transaction: a second transaction publishing for the same key waits at the counter
until the first commits, so numbers follow commit order.
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
from django.db import connection, transaction
from django.utils import timezone

from callbacks import catalog
from callbacks.models import Delivery, DeliveryState, Endpoint, Event, Ordering
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


def envelope(event_id: uuid.UUID, event_type: str, obj: dict[str, Any],
             test: bool = False) -> bytes:
    """Serialize the callback body once: {"data": {"object": ...}, "id": ..., "type": ...},
    plus ``"test": true`` for a test event (a real one has no ``test`` key at all)."""
    body: dict[str, Any] = {"data": {"object": obj}, "id": str(event_id), "type": event_type}
    if test:
        body["test"] = True
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def publish(
    *,
    domain: Domain,
    type: str,
    object: dict[str, Any],
    endpoint: Endpoint | None = None,
    test: bool = False,
    order_key: str = "",
) -> Event:
    """Record an event of ``type`` for ``domain`` and its deliveries; send after commit.

    ``order_key`` is what ordered endpoints keep this event in order with (the Box, the
    hook's owner, the PACS integration); ``endpoint`` restricts the fan-out to one
    endpoint (test events, which are never ordered).
    """
    [event] = publish_many(domain=domain, events=[(type, object, order_key)],
                           endpoint=endpoint, test=test)
    return event


def publish_many(
    *,
    domain: Domain,
    events: Sequence[tuple[str, dict[str, Any], str]],
    endpoint: Endpoint | None = None,
    test: bool = False,
) -> list[Event]:
    """Record several ``(type, object, order key)`` events of one domain, in that order,
    with two INSERTs (and one counter upsert when an ordered endpoint subscribes)."""
    for event_type, _, _ in events:
        if event_type not in catalog.BY_NAME:
            raise ValueError(f"{event_type!r} is not an event type.")
    now = timezone.now()
    rows = []
    for event_type, obj, key in events:
        event_id = uuid.uuid4()
        rows.append(Event(id=event_id, domain=domain, type=event_type, created_at=now, test=test,
                          body=envelope(event_id, event_type, obj, test),
                          order_key="" if test else key[:100]))
    with transaction.atomic():
        batch = _current_batch()
        deliveries = []
        ordered: list[Delivery] = []
        for event in rows:
            targets = ([(endpoint.pk, False)] if endpoint is not None
                       else batch.subscribers(domain.pk, event.type))
            for target, per_key in targets:
                delivery = Delivery(id=uuid.uuid4(), event=event, endpoint_id=target,
                                    domain=domain, event_type=event.type, test=test,
                                    next_attempt_at=now, created_at=now)
                deliveries.append(delivery)
                if per_key and event.order_key:
                    delivery.order_key = event.order_key
                    ordered.append(delivery)
        number(ordered)
        Event.objects.bulk_create(rows)
        Delivery.objects.bulk_create(deliveries)
        batch.ids.extend([str(d.id), d.endpoint_id] for d in deliveries)
    return rows


_COUNTER_SQL = """
INSERT INTO callbacks_ordercounter (endpoint_id, key, last) VALUES {values}
ON CONFLICT (endpoint_id, key) DO UPDATE SET last = callbacks_ordercounter.last + excluded.last
RETURNING endpoint_id, key, last
"""


def number(deliveries: Sequence[Delivery]) -> None:
    """Give each delivery (its ``order_key`` set) the next sequence numbers of its endpoint
    and key, in the order given; the counter rows stay locked until the caller commits."""
    if not deliveries:
        return
    wanted: dict[tuple[int, str], int] = {}
    for delivery in deliveries:
        key = (delivery.endpoint_id, str(delivery.order_key))
        wanted[key] = wanted.get(key, 0) + 1
    pairs = sorted(wanted.items())  # sorted: publishers take the locks in one order
    sql = _COUNTER_SQL.format(values=", ".join(["(%s, %s, %s)"] * len(pairs)))
    params = [value for (endpoint_id, key), count in pairs for value in (endpoint_id, key, count)]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        last = {(endpoint_id, key): value for endpoint_id, key, value in cursor.fetchall()}
    following = {pair: last[pair] - count for pair, count in wanted.items()}
    for delivery in deliveries:
        key = (delivery.endpoint_id, str(delivery.order_key))
        following[key] += 1
        delivery.sequence = following[key]


def order_pending(endpoint_id: int) -> list[list]:
    """An endpoint switched to ``per_key``: number its pending deliveries of keyed events
    by commit (event time, then creation); return the first of each key to enqueue."""
    pending = list(
        Delivery.objects.select_for_update()
        .filter(endpoint_id=endpoint_id, state=DeliveryState.PENDING, test=False,
                order_key__isnull=True)
        .exclude(event__order_key="")
        .select_related("event").only("id", "endpoint_id", "event__order_key")
        .order_by("event__created_at", "created_at", "id")
    )
    for delivery in pending:
        delivery.order_key = delivery.event.order_key
    number(pending)
    Delivery.objects.bulk_update(pending, ["order_key", "sequence"], batch_size=500)
    first: dict[str, Delivery] = {}
    for delivery in pending:
        first.setdefault(str(delivery.order_key), delivery)
    return [[str(d.id), endpoint_id] for d in first.values()]


def unorder_pending(endpoint_id: int) -> list[list]:
    """An endpoint switched back to no ordering: its pending deliveries stop waiting for
    each other (and carry no sequence); return the due ones to enqueue (bounded)."""
    waiting = Delivery.objects.filter(endpoint_id=endpoint_id, state=DeliveryState.PENDING,
                                      order_key__isnull=False)
    due = list(waiting.filter(next_attempt_at__lte=timezone.now()).order_by("next_attempt_at")
               .values_list("id", flat=True)[: settings.CALLBACK_SWEEP_LIMIT])
    waiting.update(order_key=None, sequence=None)
    return [[str(pk), endpoint_id] for pk in due]


def subscribers(domain_id: int, event_type: str) -> list[tuple[int, bool]]:
    """Return the domain's enabled endpoints subscribed to ``event_type``, as (id, ordered
    per key) pairs."""
    # Filtered in Python: a domain has few endpoints, all read in one short query.
    endpoints = Endpoint.objects.filter(domain_id=domain_id, deleted_at=None, enabled=True)
    rows = endpoints.values_list("id", "event_types", "ordering")
    return [(pk, ordering == Ordering.PER_KEY) for pk, types, ordering in rows
            if event_type in types]


class _Batch:
    """What one transaction published: delivery ids, sent to the broker once at commit,
    and the subscribers already looked up (endpoint services clear them)."""

    def __init__(self, replay: bool) -> None:
        self.ids: list[list] = []  # [delivery id, endpoint id]
        self.replay = replay
        self.callback = self.send
        self._subscribers: dict[tuple[int, str], list[tuple[int, bool]]] = {}

    def subscribers(self, domain_id: int, event_type: str) -> list[tuple[int, bool]]:
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
