"""The outbox's reading end. ``publish`` (callbacks.publishing) records deliveries and
sends a PostgreSQL notification naming the endpoints on the channel of each endpoint
(``CHANNEL`` + ``_`` + endpoint id mod ``CHANNELS``), delivered only on commit; each
delivery worker's ``Listener`` listens to its share of the channels (one notification
wakes one worker) and, every ``CALLBACK_SCAN_INTERVAL`` seconds (and after each
reconnection), scans for the endpoints with pending deliveries and the earliest due time
of each: one index probe per endpoint, whatever the backlog. Retries, deliveries another
worker gave back, a probe picked by the sweeper: the scan finds what no notification
announced. ``wake`` notifies for deliveries made elsewhere (resends, replays, probes).

``execute`` runs the engine's fixed statements; ``enqueue`` is the one way every app hands
ids to a Celery task: by task name (so nothing here imports the tasks above it), in
chunks, never raising.
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import psycopg
from celery import current_app
from django.conf import settings
from django.db import connection
from django.utils import timezone

log = logging.getLogger(__name__)

CHANNEL = "camio_deliveries"
CHANNELS = 16
# Past this many endpoints a notification says "*" (look everywhere): NOTIFY payloads are
# limited to 8,000 bytes.
NOTIFY_ENDPOINTS_MAX = 500
# One notification per channel of the endpoints in ``source`` (the publish statement's new
# deliveries, or the ids ``wake`` is given).
NOTIFY = """SELECT pg_notify(%(channel)s || '_' || (endpoint_id %% {n}),
                 CASE WHEN count(*) > %(most)s THEN '*' ELSE string_agg(endpoint_id::text, ',') END)
FROM (SELECT DISTINCT endpoint_id FROM {source}) AS woken GROUP BY endpoint_id %% {n}"""
_WAKE_SQL = NOTIFY.format(n=CHANNELS, source="unnest(%(ids)s::bigint[]) AS w (endpoint_id)")


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


_opened = threading.local()
# Seconds a claimer's or recorder's connection lives: plans prepared on it (generic, made
# once) are made again on the next, as the tables grow.
CONNECTION_SECONDS = 60.0


def renew_connection() -> None:
    """Close this thread's connection once it is CONNECTION_SECONDS old (the next statement
    opens another, and prepares its plans again)."""
    now = time.monotonic()
    since = getattr(_opened, "at", None)
    if since is None:
        _opened.at = now
    elif now - since > CONNECTION_SECONDS:
        connection.close()
        _opened.at = now


def wake(endpoints: Iterable[int | Sequence[Any]]) -> None:
    """Tell the delivery workers that these endpoints have due deliveries (endpoint ids,
    or [delivery id, endpoint id] pairs); in a transaction, when it commits."""
    ids = [int(item[1] if isinstance(item, (list, tuple)) else item)  # type: ignore[arg-type]
           for item in endpoints]
    if ids:
        execute(_WAKE_SQL, {"channel": CHANNEL, "most": NOTIFY_ENDPOINTS_MAX, "ids": ids},
                worker=False)


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
