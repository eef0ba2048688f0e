"""The outbox, both ends: ``publish`` records events and their deliveries in the caller's
transaction and wakes the delivery workers when it commits; a delivery worker's
``Listener`` hears it, and scans for due work besides.

One statement per call writes the events, one Delivery per subscribed, enabled endpoint
of the domain (the subscribers are read in the same statement, so it sees endpoint
changes made earlier in the transaction), the order numbers of ``per_key`` endpoints,
and a PostgreSQL notification naming the endpoints, on the channel of each endpoint
(``CHANNEL`` + ``_`` + endpoint id mod ``CHANNELS``; each delivery worker listens to its
share of the channels, so a notification wakes one worker, not all). A
notification is delivered only when the transaction commits, so a rolled-back change
wakes nobody and a committed one cannot be missed. No message broker is on this path.

A delivery worker LISTENs on the channel and, every ``CALLBACK_SCAN_INTERVAL`` seconds
(and after each reconnection), scans for the endpoints with pending deliveries and the
earliest due time of each: one index probe per endpoint, whatever the backlog. Retries,
deliveries another worker gave back, a probe picked by the sweeper: the scan finds what
no notification announced.

Ordering: each event carries the order key its producer gives (``box:<device_id>``,
``user:<user_id>``, ``pacs:<integration_id>``, ...). For an endpoint whose ``ordering``
is ``per_key``, each of its deliveries takes the next number of that endpoint and key
from a row-locked counter (``OrderCounter``), in the publishing transaction: a second
transaction publishing for the same key waits at the counter until the first commits,
so numbers follow commit order.

``enqueue`` is the one way every app hands ids to a Celery task: by task name (so
nothing here imports the tasks above it), in chunks, never raising.
"""

from __future__ import annotations

import datetime
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import psycopg
from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from callbacks import catalog
from callbacks.models import Delivery, DeliveryState, Endpoint, Event
from domains.models import Domain

log = logging.getLogger(__name__)

CHANNEL = "camio_deliveries"
CHANNELS = 16
# Past this many endpoints a notification says "*" (look everywhere): NOTIFY payloads are
# limited to 8,000 bytes.
NOTIFY_ENDPOINTS_MAX = 500
# One notification per channel of the endpoints given (or claimed) by the statement above.
_NOTIFY = """SELECT pg_notify(%(channel)s || '_' || (endpoint_id %% {n}),
                 CASE WHEN count(*) > %(most)s THEN '*' ELSE string_agg(endpoint_id::text, ',') END)
FROM (SELECT DISTINCT endpoint_id FROM {source}) AS woken GROUP BY endpoint_id %% {n}"""


def enqueue(task: str, ids: Sequence[Any], *, queue: str | None = None,
            countdown: float | None = None, chunk: int = 200) -> int:
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


def execute(sql: str, params: Any, *, worker: bool = True,
            prepare: bool = True) -> psycopg.Cursor:
    """Run one of the engine's fixed statements in Django's connection and transaction,
    its parameters bound by the server and its plan prepared on first use: these
    statements take longer to plan than to run (``prepare=False``: planned for these
    parameters). Django's query log sees them.

    Planned once, generically, a plan must not depend on how big the tables were when it
    was made: a delivery worker's connections (``worker``) plan without sequential scans,
    which the engine's statements never need (they find rows by index), so a plan made on
    an empty table stays right on a full one."""
    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None:  # Django turns preparing off: on for what asks alone
        raw.prepare_threshold = 2**31 - 1
        # Django's own statements are not prepared, so this leaves them alone.
        raw.execute("SET plan_cache_mode = force_generic_plan")
    if worker and not getattr(raw, "camio_worker", False):
        raw.execute("SET enable_seqscan = off")
        # A statement gone wrong ends, and the thread tries again on a fresh connection.
        raw.execute("SET statement_timeout = '30s'")
        raw.camio_worker = True
    cursor = psycopg.Cursor(raw)
    started = time.monotonic()
    cursor.execute(sql, params, prepare=prepare)
    if connection.queries_logged:
        connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})
    return cursor


def wake(endpoints: Iterable[int | Sequence[Any]]) -> None:
    """Tell the delivery workers that these endpoints have due deliveries (endpoint ids,
    or [delivery id, endpoint id] pairs); in a transaction, when it commits."""
    ids = [int(item[1] if isinstance(item, (list, tuple)) else item)  # type: ignore[arg-type]
           for item in endpoints]
    if ids:
        execute(_WAKE_SQL, {"channel": CHANNEL, "most": NOTIFY_ENDPOINTS_MAX, "ids": ids},
                worker=False)


def envelope(event_id: uuid.UUID, event_type: str, obj: dict[str, Any],
             test: bool = False) -> bytes:
    """Serialize the callback body once: {"data": {"object": ...}, "id": ..., "type": ...},
    plus ``"test": true`` for a test event (a real one has no ``test`` key at all)."""
    body: dict[str, Any] = {"data": {"object": obj}, "id": str(event_id), "type": event_type}
    if test:
        body["test"] = True
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def publish(*, domain: Domain, type: str, object: dict[str, Any],
            endpoint: Endpoint | None = None, test: bool = False, order_key: str = "") -> Event:
    """Record an event of ``type`` for ``domain`` and its deliveries; wake the workers when
    the transaction commits.

    ``order_key`` is what ordered endpoints keep this event in order with (the Box, the
    hook's owner, the PACS integration); ``endpoint`` restricts the fan-out to one
    endpoint (test events, which are never ordered).
    """
    [event] = publish_many(domain=domain, events=[(type, object, order_key)],
                           endpoint=endpoint, test=test)
    return event


# The events, their deliveries (subscribers read here), the order numbers and the
# notification, in one statement. Data-modifying CTEs all run; the counters are upserted
# in (endpoint, key) order, so two publishers take their locks in one order.
_PUBLISH_SQL = """
WITH ev AS (
    INSERT INTO callbacks_event (id, domain_id, type, created_at, test, body, order_key)
    SELECT i, %(domain)s, t, %(now)s, %(test)s, b, k
    FROM unnest(%(ids)s::uuid[], %(types)s::varchar[], %(bodies)s::bytea[], %(keys)s::varchar[])
         AS x (i, t, b, k)
), targets AS (
    SELECT x.i AS event_id, x.t AS type, x.k AS order_key, x.n, ep.id AS endpoint_id,
           ep.ordering = 'per_key' AND x.k <> '' AND NOT %(test)s AS keyed
    FROM unnest(%(ids)s::uuid[], %(types)s::varchar[], %(keys)s::varchar[])
         WITH ORDINALITY AS x (i, t, k, n)
    JOIN callbacks_endpoint ep ON CASE WHEN %(only)s::bigint IS NULL
        THEN ep.domain_id = %(domain)s AND ep.enabled AND ep.deleted_at IS NULL
             AND ep.event_types ? x.t
        ELSE ep.id = %(only)s::bigint END
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
)
""" + _NOTIFY.format(n=CHANNELS, source="ins")  # noqa: S608 (fixed text)
_WAKE_SQL = _NOTIFY.format(n=CHANNELS, source="unnest(%(ids)s::bigint[]) AS w (endpoint_id)")


def publish_many(*, domain: Domain, events: Sequence[tuple[str, dict[str, Any], str]],
                 endpoint: Endpoint | None = None, test: bool = False) -> list[Event]:
    """Record several ``(type, object, order key)`` events of one domain, in that order,
    with their deliveries, in one statement."""
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
    params: dict[str, Any] = {
        "domain": domain.pk, "now": now, "test": test, "channel": CHANNEL,
        "most": NOTIFY_ENDPOINTS_MAX, "only": endpoint.pk if endpoint is not None else None,
        "ids": [e.id for e in rows], "types": [e.type for e in rows],
        "bodies": [e.body for e in rows], "keys": [e.order_key for e in rows],
    }
    with transaction.atomic():
        execute(_PUBLISH_SQL, params, worker=False)
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


# --- The workers' end: listening and scanning ------------------------------------------

# Each endpoint with unkeyed deliveries pending, once, with the earliest due time (a loose
# index scan on delivery_pending: one probe per endpoint), and each endpoint with keyed
# deliveries pending or being sent (one probe per endpoint on delivery_order: the claim
# finds the heads of its keys). Endpoints whose circuit is open (no probe picked) or
# that are paused are left out: nothing is due there.
_SCAN_SQL = """
WITH RECURSIVE plain (endpoint_id, due) AS (
    (SELECT endpoint_id, next_attempt_at FROM callbacks_delivery
     WHERE state = 'pending' AND order_key IS NULL ORDER BY endpoint_id, next_attempt_at LIMIT 1)
    UNION ALL
    SELECT n.endpoint_id, n.next_attempt_at FROM plain CROSS JOIN LATERAL (
        SELECT endpoint_id, next_attempt_at FROM callbacks_delivery
        WHERE state = 'pending' AND order_key IS NULL AND endpoint_id > plain.endpoint_id
        ORDER BY endpoint_id, next_attempt_at LIMIT 1) AS n
), keyed (endpoint_id) AS (
    (SELECT endpoint_id FROM callbacks_delivery
     WHERE state IN ('pending', 'sending') AND sequence IS NOT NULL ORDER BY endpoint_id LIMIT 1)
    UNION ALL
    SELECT n.endpoint_id FROM keyed CROSS JOIN LATERAL (
        SELECT endpoint_id FROM callbacks_delivery
        WHERE state IN ('pending', 'sending') AND sequence IS NOT NULL
          AND endpoint_id > keyed.endpoint_id ORDER BY endpoint_id LIMIT 1) AS n
), found AS (
    SELECT endpoint_id, due FROM plain
    UNION ALL SELECT endpoint_id, %(now)s FROM keyed
)
SELECT f.endpoint_id, ep.domain_id, min(f.due)
FROM found f JOIN callbacks_endpoint ep ON ep.id = f.endpoint_id
WHERE (ep.circuit_opened_at IS NULL OR ep.probe_delivery_id IS NOT NULL)
  AND (ep.paused_until IS NULL OR ep.paused_until <= %(now)s)
GROUP BY f.endpoint_id, ep.domain_id
"""

_DOMAINS_SQL = "SELECT id, domain_id FROM callbacks_endpoint WHERE id = ANY(%s)"

# endpoint -> (domain, due)
Found = Callable[[dict[int, tuple[int, object]]], None]


def scan() -> dict[int, tuple[int, datetime.datetime]]:
    """endpoint -> (domain, earliest due) for every endpoint with pending deliveries."""
    with connection.cursor() as cursor:
        cursor.execute(_SCAN_SQL, {"now": timezone.now()})
        return {endpoint: (domain, due) for endpoint, domain, due in cursor.fetchall()}


def domains_of(endpoints: list[int]) -> dict[int, int]:
    """endpoint -> domain."""
    with connection.cursor() as cursor:
        cursor.execute(_DOMAINS_SQL, [endpoints])
        return dict(cursor.fetchall())


class Listener:
    """A thread that hands what it learns to ``found`` (endpoint -> (domain, due)),
    listening to the channels ``channels()`` names (checked at every scan)."""

    def __init__(self, found: Found, channels: Callable[[], Iterable[int]]) -> None:
        self.found, self.channels = found, channels
        self.stopping = threading.Event()
        self.known: dict[int, int] = {}  # endpoint -> domain, for notifications
        self.thread = threading.Thread(target=self.run, name="callback-listener", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.listen()
            except Exception:  # the database went away: try again shortly
                log.warning("listening for deliveries failed; trying again", exc_info=True)
                connection.close()
                self.stopping.wait(1.0)
        connection.close()

    def listen(self) -> None:
        # A connection of its own: one iterating notifies() takes no other statement.
        listening = connection.get_new_connection(connection.get_connection_params())
        try:
            listening.autocommit = True
            heard: set[int] = set()
            while not self.stopping.is_set():
                wanted = set(self.channels())
                for verb, channels in (("UNLISTEN", heard - wanted), ("LISTEN", wanted - heard)):
                    for channel in sorted(channels):
                        listening.execute(f"{verb} {CHANNEL}_{channel}")
                heard = wanted
                self.rescan()
                # The generator ends every interval, and the scan runs then, busy or not.
                for note in listening.notifies(timeout=settings.CALLBACK_SCAN_INTERVAL):
                    if note.payload == "*":
                        self.rescan()
                    else:
                        self.announce({int(pk) for pk in note.payload.split(",") if pk})
                    if self.stopping.is_set():
                        return
        finally:
            listening.close()

    def rescan(self) -> None:
        found: dict[int, tuple[int, object]] = dict(scan())
        self.known.update((endpoint, domain) for endpoint, (domain, _) in found.items())
        self.found(found)

    def announce(self, endpoints: set[int]) -> None:
        missing = [pk for pk in endpoints if pk not in self.known]
        if missing:
            self.known.update(domains_of(missing))
        now = timezone.now()
        found: dict[int, tuple[int, object]] = {pk: (self.known[pk], now) for pk in endpoints
                                                if pk in self.known}
        self.found(found)
