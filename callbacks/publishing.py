"""Publishing: what producers call in their own transaction. ``publish`` records events and
their deliveries and wakes the delivery workers when the transaction commits.

One statement per call writes the events, one Delivery per subscribed, enabled endpoint
of the domain whose payload filter the event passes (the subscribers are read, and the
filters judged, in the same statement, so it sees endpoint changes made earlier in the
transaction; test events and resends ignore filters), the order numbers of ``per_key`` endpoints,
and a PostgreSQL notification per channel of the endpoints (callbacks.delivery.outbox).
A notification is delivered only when the transaction commits, so a rolled-back change
wakes nobody and a committed one cannot be missed. No message broker is on this path.

Ordering: each event carries the order key its producer gives (``box:<device_id>``,
``user:<user_id>``, ``pacs:<integration_id>``, ...). For an endpoint whose ``ordering``
is ``per_key``, each of its deliveries takes the next number of that endpoint and key
from a row-locked counter (``OrderCounter``), in the publishing transaction: a second
transaction publishing for the same key waits at the counter until the first commits,
so numbers follow commit order. ``number``, ``order_pending`` and ``unorder_pending``
do the same for replays and for an endpoint whose ordering changes.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from callbacks import catalog, tracing
from callbacks.delivery.metrics import FILTERED
from callbacks.delivery.outbox import CHANNEL, CHANNELS, NOTIFY, NOTIFY_ENDPOINTS_MAX, execute
from callbacks.filters import MATCH_SQL
from callbacks.models import Delivery, DeliveryState, Endpoint, Event
from domains.models import Domain


def envelope(event_id: uuid.UUID, event_type: str, obj: dict[str, Any],
             test: bool = False) -> bytes:
    """Serialize the callback body once: {"data": {"object": ...}, "id": ..., "type": ...},
    plus ``"test": true`` for a test event (a real one has no ``test`` key at all)."""
    body: dict[str, Any] = {"data": {"object": obj}, "id": str(event_id), "type": event_type}
    if test:
        body["test"] = True
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def publish(*, domain: Domain, type: str, object: dict[str, Any],
            endpoint: Endpoint | None = None, test: bool = False, order_key: str = "",
            about: int | None = None) -> Event:
    """Record an event of ``type`` for ``domain`` and its deliveries; wake the workers when
    the transaction commits.

    ``order_key`` is what ordered endpoints keep this event in order with (the Box, the
    hook's owner, the PACS integration); ``endpoint`` restricts the fan-out to one
    endpoint (test events, which are never ordered); ``about``, an endpoint id, leaves
    that endpoint out (an operational event is never sent to the endpoint it is about).
    """
    [event] = publish_many(domain=domain, events=[(type, object, order_key)],
                           endpoint=endpoint, test=test, about=about)
    return event


# The events, their deliveries (subscribers read here), the order numbers and the
# notification, in one statement. Data-modifying CTEs all run; the counters are upserted
# in (endpoint, key) order, so two publishers take their locks in one order.
_PUBLISH_SQL = """
WITH ev AS (
    INSERT INTO callbacks_event (id, domain_id, type, created_at, test, body, order_key,
                                 request_id, traceparent, tracestate)
    SELECT i, %(domain)s, t, %(now)s, %(test)s, b, k, %(request_id)s, %(traceparent)s,
           %(tracestate)s
    FROM unnest(%(ids)s::uuid[], %(types)s::varchar[], %(bodies)s::bytea[], %(keys)s::varchar[])
         AS x (i, t, b, k)
), subscribed AS (
    SELECT x.i AS event_id, x.t AS type, x.k AS order_key, x.n, ep.id AS endpoint_id,
           ep.ordering = 'per_key' AND x.k <> '' AND NOT %(test)s AS keyed,
           CASE WHEN ep.filter_path = '' OR %(only)s::bigint IS NOT NULL THEN true
                ELSE {passes} IS TRUE END AS passes
    FROM unnest(%(ids)s::uuid[], %(types)s::varchar[], %(keys)s::varchar[], %(bodies)s::bytea[])
         WITH ORDINALITY AS x (i, t, k, b, n)
    JOIN callbacks_endpoint ep ON CASE WHEN %(only)s::bigint IS NULL
        THEN ep.domain_id = %(domain)s AND ep.enabled AND ep.deleted_at IS NULL
             AND ep.event_types ? x.t AND ep.id IS DISTINCT FROM %(about)s::bigint
        ELSE ep.id = %(only)s::bigint END
), targets AS (
    SELECT * FROM subscribed WHERE passes
), wanted AS (
    SELECT endpoint_id, order_key, count(*) AS n FROM targets WHERE keyed GROUP BY 1, 2
), counters AS (
    INSERT INTO callbacks_ordercounter (endpoint_id, key, last)
    SELECT endpoint_id, order_key, n FROM wanted ORDER BY endpoint_id, order_key
    ON CONFLICT (endpoint_id, key) DO UPDATE SET last = callbacks_ordercounter.last + excluded.last
    RETURNING endpoint_id, key, last
), numbered AS (
    SELECT t.*, c.last - w.n
           + row_number() OVER (PARTITION BY t.endpoint_id, t.order_key, t.keyed ORDER BY t.n)
           AS sequence
    FROM targets t
    LEFT JOIN wanted w ON t.keyed AND w.endpoint_id = t.endpoint_id AND w.order_key = t.order_key
    LEFT JOIN counters c ON t.keyed AND c.endpoint_id = t.endpoint_id AND c.key = t.order_key
), ins AS (
    INSERT INTO callbacks_delivery (id, event_id, endpoint_id, domain_id, event_type, state,
        test, replay, attempt_count, off_schedule_attempts, next_attempt_at, last_error,
        created_at, order_key, sequence)
    SELECT gen_random_uuid(), event_id, endpoint_id, %(domain)s, type, 'pending', %(test)s,
           false, 0, 0, %(now)s, '', %(now)s, CASE WHEN keyed THEN order_key END,
           CASE WHEN keyed THEN sequence END
    FROM numbered ORDER BY n, endpoint_id
    RETURNING endpoint_id
), woken AS (
""" + NOTIFY.format(n=CHANNELS, source="ins") + """
)
SELECT (SELECT count(*) FROM subscribed WHERE NOT passes), (SELECT count(*) FROM woken)
"""  # noqa: S608 (fixed text)
_PUBLISH_SQL = _PUBLISH_SQL.replace(
    "{passes}", MATCH_SQL.format(body="x.b", path="ep.filter_path", vars="ep.filter_vars"))


def publish_many(*, domain: Domain, events: Sequence[tuple[str, dict[str, Any], str]],
                 endpoint: Endpoint | None = None, test: bool = False,
                 about: int | None = None) -> list[Event]:
    """Record several ``(type, object, order key)`` events of one domain, in that order,
    with their deliveries, in one statement."""
    for event_type, _, _ in events:
        if event_type not in catalog.BY_NAME:
            raise ValueError(f"{event_type!r} is not an event type.")
    now = timezone.now()
    ids = [uuid.uuid4() for _ in events]
    with tracing.span("publish", attributes={"camio.event_id": [str(i) for i in ids]}):
        request_id, parent, state = tracing.event_context()  # the publish span's, when on
        rows = [Event(id=event_id, domain=domain, type=event_type, created_at=now, test=test,
                      body=envelope(event_id, event_type, obj, test),
                      order_key="" if test else key[:100], request_id=request_id,
                      traceparent=parent, tracestate=state)
                for event_id, (event_type, obj, key) in zip(ids, events, strict=True)]
        params: dict[str, Any] = {
            "domain": domain.pk, "now": now, "test": test, "channel": CHANNEL,
            "most": NOTIFY_ENDPOINTS_MAX, "only": endpoint.pk if endpoint is not None else None,
            "about": about,
            "ids": [e.id for e in rows], "types": [e.type for e in rows],
            "bodies": [e.body for e in rows], "keys": [e.order_key for e in rows],
            "request_id": request_id, "traceparent": parent, "tracestate": state,
        }
        # One statement is all or nothing by itself: no savepoint (or BEGIN and COMMIT when
        # the caller has no transaction), two round trips fewer per call.
        [(filtered, _)] = execute(_PUBLISH_SQL, params, worker=False).fetchall()
    if filtered:
        FILTERED.inc(filtered)
    for event in rows:
        event._state.adding, event._state.db = False, "default"
    return rows


_COUNTER_SQL = """
INSERT INTO callbacks_ordercounter (endpoint_id, key, last) VALUES {values}
ON CONFLICT (endpoint_id, key) DO UPDATE SET last = callbacks_ordercounter.last + excluded.last
RETURNING endpoint_id, key, last
"""


def number(deliveries: Sequence[Delivery]) -> None:
    """Give each delivery (its ``order_key`` set) the next sequence numbers of its endpoint
    and key, in the order given; the counter rows stay locked until the caller commits
    (replays, and an endpoint switching to ``per_key``)."""
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
    by commit (event time, then creation); return the first of each key."""
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
    each other (and carry no sequence)."""
    Delivery.objects.filter(endpoint_id=endpoint_id, state=DeliveryState.PENDING,
                            order_key__isnull=False).update(order_key=None, sequence=None)
    return [[None, endpoint_id]]
