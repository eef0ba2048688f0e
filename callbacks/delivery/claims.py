"""Claiming due deliveries: one statement that picks, locks and stamps them with the
claiming worker's id and a lease, so a delivery is sent by one worker at a time.

``claim_due`` takes, for each endpoint of a plan (callbacks.delivery.shares), at most
its quota of due deliveries, oldest due first: on an unordered endpoint by an index on
(endpoint, due time); on a ``per_key`` endpoint the first pending delivery of each key
whose earlier ones are all finished (a walk over the endpoint's keys, one index probe
each). Deliveries their endpoint holds back are left: an open circuit holds back all
but its probe, a Retry-After pause all; test events never wait. An endpoint with a
``rate_limit`` gets no more than it may start within the next second, judged under a
lock on its ``EndpointSlot`` row, and each claimed delivery its start.

``claim`` claims given ids (the command line's test event; tests).
"""

from __future__ import annotations

import datetime
import math
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from callbacks import tracing
from callbacks.delivery import oauth
from callbacks.delivery.outbox import execute
from callbacks.delivery.policy import RESERVED_HEADERS, Job
from callbacks.models import (
    Delivery,
    DeliveryState,
    Endpoint,
    Kind,
    SigningScheme,
)
from callbacks.signing import live_secrets
from callbacks.tls import client_context

# How far ahead a rate-limited endpoint's deliveries are claimed (each waits for its start).
RATE_HORIZON = 1.0

# How both claims end: the claimed rows, with their events and endpoints, as _jobs reads them.
_JOBS = """    RETURNING id, endpoint_id, attempt_count, next_attempt_at, test, replay, event_id,
              off_schedule_attempts, order_key, sequence
)
SELECT c.id, c.endpoint_id, c.attempt_count, c.next_attempt_at, c.test, c.replay, c.event_id,
       e.type, e.created_at, e.body, ep.updated_at, c.off_schedule_attempts,
       c.order_key, c.sequence, ep.probe_delivery_id IS NOT NULL AND ep.probe_delivery_id = c.id,
       e.request_id, e.traceparent, e.tracestate
FROM claimed c JOIN callbacks_event e ON e.id = c.event_id
     JOIN callbacks_endpoint ep ON ep.id = c.endpoint_id
ORDER BY c.next_attempt_at
"""

_HELD_BACK = """(d.test OR ((ep.circuit_opened_at IS NULL OR ep.probe_delivery_id = d.id)
                 AND (ep.paused_until IS NULL OR ep.paused_until <= %(now)s)))"""

# Per endpoint of the plan: due unkeyed deliveries by (endpoint, due time). Then lock
# (skipping rows another worker holds), stamp and read.
_CLAIM_DUE_SQL = f"""
WITH q AS (
    SELECT * FROM unnest(%(endpoints)s::bigint[], %(quotas)s::int[]) AS q (endpoint_id, quota)
), picked AS (
    SELECT x.id FROM q JOIN callbacks_endpoint ep ON ep.id = q.endpoint_id
    CROSS JOIN LATERAL (
        SELECT d.id FROM callbacks_delivery d
        WHERE d.endpoint_id = q.endpoint_id AND d.state = 'pending' AND d.order_key IS NULL
          AND d.next_attempt_at <= %(now)s AND {_HELD_BACK}
        ORDER BY d.next_attempt_at LIMIT q.quota) AS x
), locked AS (
    SELECT d.id FROM callbacks_delivery d WHERE d.id IN (SELECT id FROM picked)
    AND d.state = 'pending' FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE callbacks_delivery SET state = 'sending', claim_token = %(token)s,
           lease_expires_at = %(lease)s
    WHERE id IN (SELECT id FROM locked)
{_JOBS}"""  # noqa: S608 (fixed text)


# Lock the endpoints' slot rows (made on first use; in id order, so claimers cannot
# deadlock) and read what limits each: its rate and next start, and how many of its
# deliveries are being sent by any worker (read after the lock, in a statement of its own,
# so a claim committed meanwhile is counted).
_SLOTS_SQL = """
INSERT INTO callbacks_endpointslot (endpoint_id)
SELECT unnest(%s::bigint[]) ORDER BY 1
ON CONFLICT (endpoint_id) DO UPDATE SET endpoint_id = excluded.endpoint_id
RETURNING endpoint_id, next_start_at
"""
_ROOM_SQL = """
SELECT ep.id, ep.rate_limit, ep.ordering = 'per_key',
       (SELECT count(*) FROM callbacks_delivery d WHERE d.endpoint_id = ep.id
        AND d.state = 'sending') AS sending
FROM callbacks_endpoint ep WHERE ep.id = ANY(%s::bigint[])
"""


def claim_due(plan: dict[int, int], worker: uuid.UUID | None = None,
              answered: dict[int, int] | None = None) -> tuple[list[Job], set[int]]:
    """Claim up to ``plan[endpoint]`` due deliveries of each endpoint (unkeyed ones, and as
    many heads of keys), stamped with ``worker``, within each endpoint's limits across every
    worker: ``CALLBACK_ENDPOINT_INFLIGHT`` being sent (less ``answered``: this worker's
    requests answered and not yet recorded) and its ``rate_limit``. Returns the jobs and
    the endpoints those limits held back."""
    _commit_without_waiting()
    started, now, token = time.time_ns(), timezone.now(), worker or uuid.uuid4()
    lease = now + datetime.timedelta(seconds=settings.CALLBACK_LEASE_SECONDS)
    answered = answered or {}
    cap = settings.CALLBACK_ENDPOINT_INFLIGHT
    with transaction.atomic():
        starts: dict[int, datetime.datetime | None] = dict(
            execute(_SLOTS_SQL, [sorted(plan)]).fetchall())
        room = execute(_ROOM_SQL, [sorted(plan)]).fetchall()
        limits, quotas, held = {}, {}, set()
        ordered = []
        for pk, rate, keyed, sending in room:
            quota = min(plan[pk], cap - max(0, sending - answered.get(pk, 0)))
            if rate:
                limits[pk] = _Limit(rate, starts.get(pk), now)
                quota = limits[pk].quota(quota)
            if quota < plan[pk]:
                held.add(pk)
            if quota > 0:
                quotas[pk] = quota
                if keyed:
                    ordered.append(pk)
        rows = []
        if quotas:
            rows = execute(_CLAIM_DUE_SQL, {
                "endpoints": list(quotas), "quotas": list(quotas.values()), "now": now,
                "token": token, "lease": lease}).fetchall()
        heads = [head for pk in ordered for head in _heads(pk, quotas[pk], now)]
        if heads:
            rows += execute(_CLAIM_SQL, {"token": token, "lease": lease, "ids": heads,
                                         "now": now, "limit": len(heads)}).fetchall()
        not_before = _schedule(rows, limits) if limits else {}
    jobs = _jobs(rows, token, started, not_before)
    # Held back means the limit, not the work, ended the claim: it took all it was allowed.
    claimed = Counter(job.endpoint_id for job in jobs)
    return jobs, {pk for pk in held if claimed[pk] >= quotas.get(pk, 0)}


# The head of each key of an ordered endpoint (its first delivery pending or being sent),
# when it is pending and due: a walk over the keys, one index probe each. Planned for each
# run (not prepared): the walk's best plan depends on how many keys there are.
_HEADS_SQL = """
WITH RECURSIVE head (order_key, id) AS (
    (SELECT order_key, id FROM callbacks_delivery
     WHERE endpoint_id = %(endpoint)s AND state IN ('pending', 'sending')
       AND sequence IS NOT NULL ORDER BY order_key, sequence LIMIT 1)
    UNION ALL
    SELECT n.order_key, n.id FROM head CROSS JOIN LATERAL (
        SELECT order_key, id FROM callbacks_delivery
        WHERE endpoint_id = %(endpoint)s AND state IN ('pending', 'sending')
          AND sequence IS NOT NULL AND order_key > head.order_key
        ORDER BY order_key, sequence LIMIT 1) AS n
)
SELECT d.id FROM head JOIN callbacks_delivery d ON d.id = head.id
WHERE d.state = 'pending' AND d.next_attempt_at <= %(now)s LIMIT %(limit)s
"""


def _heads(endpoint_id: int, limit: int, now: datetime.datetime) -> list[uuid.UUID]:
    cursor = execute(_HEADS_SQL, {"endpoint": endpoint_id, "now": now, "limit": limit},
                     prepare=False)
    return [row[0] for row in cursor.fetchall()]


def _commit_without_waiting() -> None:
    """Claims commit without waiting for the disk (once per connection: the claimer's own).
    A claim lost in a database crash only sends its delivery again: at least once still
    holds, and the publisher's and the recorder's commits wait as ever."""
    connection.ensure_connection()
    raw = connection.connection
    if not getattr(raw, "camio_claims", False):
        raw.execute("SET synchronous_commit TO off")
        raw.camio_claims = True


def claim(ids: Sequence[str], limit: int, worker: uuid.UUID | None = None) -> list[Job]:
    """Claim up to ``limit`` of ``ids`` that are pending and due, oldest due first: the next
    of each key the recorder found, the command line's test event, tests."""
    started, now, token = time.time_ns(), timezone.now(), worker or uuid.uuid4()
    lease = now + datetime.timedelta(seconds=settings.CALLBACK_LEASE_SECONDS)
    wanted = [uuid.UUID(str(i)) for i in ids]
    rows = execute(_CLAIM_SQL, {"token": token, "lease": lease, "ids": wanted, "now": now,
                                "limit": limit}).fetchall()
    return _jobs(rows, token, started)


class _Limit:
    """A rate-limited endpoint's starts at claim time."""

    def __init__(self, rate: int, next_start: datetime.datetime | None,
                 now: datetime.datetime) -> None:
        self.rate, self.now = rate, now
        self.first = max(now, next_start or now)  # when the next delivery may start

    def quota(self, wanted: int) -> int:
        ahead = (self.now + datetime.timedelta(seconds=RATE_HORIZON) - self.first)
        return min(wanted, max(0, math.ceil(ahead.total_seconds() * self.rate)))

    def starts(self, count: int) -> list[datetime.datetime]:
        """The start of each of ``count`` claimed deliveries; moves the next free start."""
        gap = datetime.timedelta(seconds=1 / self.rate)
        times = [self.first + gap * i for i in range(count)]
        self.first += gap * count
        return times


_NEXT_START_SQL = """
UPDATE callbacks_endpointslot s SET next_start_at = x.at
FROM unnest(%s::bigint[], %s::timestamptz[]) AS x (endpoint_id, at)
WHERE s.endpoint_id = x.endpoint_id
"""


def _schedule(rows: list[tuple], limits: dict[int, _Limit]) -> dict[uuid.UUID, datetime.datetime]:
    """Give each claimed delivery of a rate-limited endpoint its start (by delivery id);
    store each endpoint's next free start."""
    per_endpoint: dict[int, list[uuid.UUID]] = defaultdict(list)
    for row in rows:
        if row[1] in limits:
            per_endpoint[row[1]].append(row[0])
    starts: dict[uuid.UUID, datetime.datetime] = {}
    for endpoint_id, group in per_endpoint.items():
        starts.update(zip(group, limits[endpoint_id].starts(len(group)), strict=True))
    execute(_NEXT_START_SQL, [list(per_endpoint),
                              [limits[pk].first for pk in per_endpoint]])
    return starts


# The LIMIT sits in an ARRAY(...) sub-select, which PostgreSQL runs once (an InitPlan):
# no plan can re-run it per row and claim more than ``limit``.
_CLAIM_SQL = f"""
WITH claimed AS (
    UPDATE callbacks_delivery SET state = 'sending', claim_token = %(token)s,
           lease_expires_at = %(lease)s
    WHERE id = ANY(ARRAY(
        SELECT d.id FROM callbacks_delivery d JOIN callbacks_endpoint ep ON ep.id = d.endpoint_id
        WHERE d.id = ANY(%(ids)s) AND d.state = 'pending' AND d.next_attempt_at <= %(now)s
          AND {_HELD_BACK}
          AND (d.order_key IS NULL OR NOT EXISTS (
              SELECT 1 FROM callbacks_delivery p WHERE p.endpoint_id = d.endpoint_id
              AND p.order_key = d.order_key AND p.sequence < d.sequence
              AND p.state IN ('pending', 'sending') AND p.sequence IS NOT NULL))
        ORDER BY d.next_attempt_at, d.sequence LIMIT %(limit)s FOR UPDATE OF d SKIP LOCKED))
{_JOBS}"""  # noqa: S608 (fixed text)


def behind_in_order() -> Q:
    """Deliveries of a ``per_key`` endpoint with an earlier one of their key still pending
    or being sent (the claim SQL above says the same)."""
    earlier = Delivery.objects.filter(
        endpoint_id=OuterRef("endpoint_id"), order_key=OuterRef("order_key"),
        sequence__lt=OuterRef("sequence"), sequence__isnull=False,
        state__in=(DeliveryState.PENDING, DeliveryState.SENDING),
    )
    return Q(order_key__isnull=False) & Q(Exists(earlier))


def _jobs(rows: list[tuple], token: uuid.UUID, started_ns: int,
          starts: dict[uuid.UUID, datetime.datetime] | None = None) -> list[Job]:
    """Build the Jobs of claimed rows (the one place a Job is made); ``started_ns`` is
    when the claim began, for its span."""
    views = endpoint_views({(row[1], row[10]) for row in rows})
    jobs = []
    for row in rows:
        (delivery_id, endpoint_id, attempts, due, test, replay, event_id, kind, created, body,
         _, off_schedule, order_key, sequence, probe, request_id, parent, state) = row
        endpoint = views[endpoint_id]
        jobs.append(Job(
            delivery_id=str(delivery_id), endpoint_id=endpoint_id, event_id=str(event_id),
            event_type=kind, event_created_at=created, method=endpoint.method,
            url=endpoint.url, headers=endpoint.headers, secrets=endpoint.secrets(),
            ed25519=endpoint.ed25519(), tls=endpoint.tls, oauth=endpoint.oauth,
            body=bytes(body), attempt_number=attempts + 1, due_at=due,
            schedule_slot=attempts - off_schedule + 1, probe=bool(probe) and not test,
            claim_token=str(token), test=test, replay=replay,
            endpoint_public_id=endpoint.public_id, domain=endpoint.domain,
            order_key=order_key if order_key and sequence else "", sequence=sequence or 0,
            not_before=(starts or {}).get(delivery_id), request_id=request_id,
            traceparent=parent, tracestate=state, schedule=endpoint.schedule,
            chat=endpoint.chat, shown_url=endpoint.shown_url,
            timeout=endpoint.timeout,
        ))
    if tracing.enabled():
        tracing.record_claim([(j.event_id, j.traceparent, j.tracestate) for j in jobs],
                             started_ns)
    return jobs


class EndpointView:
    """An endpoint's sending details, decrypted once."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.pk, self.method, self.url = endpoint.pk, endpoint.method, endpoint.url
        # A chat endpoint: sent to its encrypted URL, shown (and logged) as ``url``.
        self.chat, self.shown_url = endpoint.kind == Kind.CHAT, ""
        if self.chat:
            self.method, self.url, self.shown_url = "POST", endpoint.chat_url or "", endpoint.url
        self.public_id, self.domain = endpoint.endpoint_id, endpoint.domain.name
        self.schedule, self.timeout = endpoint.retry_schedule, endpoint.attempt_timeout
        # An endpoint saved before a name was reserved keeps working, without that header.
        self.headers = {name: value for name, value in (endpoint.headers or {}).items()
                        if name.lower() not in RESERVED_HEADERS}
        # Read here rather than through a model method: the engine stays out of models.py.
        # Each scheme the endpoint signs with (callbacks.models.Signing): its keys, newest
        # first, judged at each claim (ends pass).
        # "hmac", "ed25519" or "both" (callbacks.models.Signing), compared here: a plain
        # endpoint's claim enters no other module for it.
        signs: dict[str, bool] = {SigningScheme.HMAC: endpoint.signing != "ed25519",
                                  SigningScheme.ED25519: endpoint.signing != "hmac"}
        keys = [key for key in endpoint.signing_keys.all() if signs.get(key.scheme)]
        self.keys = [(key.secret, key.expires_at) for key in keys
                     if key.scheme == SigningScheme.HMAC]
        self.ed_keys = [(key.key_id, key.secret, key.expires_at) for key in keys
                        if key.scheme == SigningScheme.ED25519]
        # Its client certificate and CA bundle, loaded once per change (callbacks/tls.py).
        self.tls = (client_context(endpoint.client_certificate, endpoint.client_key,
                                   endpoint.ca_bundle)
                    if endpoint.client_certificate or endpoint.ca_bundle else None)
        self.oauth = (oauth.Client(endpoint.pk, endpoint.oauth_token_url,
                                   endpoint.oauth_client_id, endpoint.oauth_client_secret or "",
                                   endpoint.oauth_scope)
                      if endpoint.oauth_token_url else None)

    def secrets(self) -> list[str]:
        """The secrets that sign now (older keys too while their rotation overlaps)."""
        return live_secrets(self.keys, timezone.now())

    def ed25519(self) -> list[tuple[str, str]]:
        """(key id, private key) of each ed25519 key that signs now, newest first."""
        now = timezone.now()
        return [(kid, secret) for kid, secret, ends in self.ed_keys if ends is None or ends > now]


_views: dict[tuple[int, object], EndpointView] = {}
_views_lock = threading.Lock()


def endpoint_views(keys: set[tuple[int, object]]) -> dict[int, EndpointView]:
    """Decrypted sending details per endpoint, cached per process by (id, updated_at):
    every endpoint service moves ``updated_at``, so a change is seen on the next claim."""
    with _views_lock:
        found = {key[0]: _views[key] for key in keys if key in _views}
    missing = {pk for pk, _ in keys} - set(found)
    if missing:
        # Their signing keys come in one more query for all the missing endpoints (a few
        # rows each: a rotation deletes the keys that stopped signing; live_secrets judges
        # the rest at each claim).
        endpoints = (Endpoint.objects.select_related("domain").prefetch_related("signing_keys")
                     .in_bulk(missing))
        with _views_lock:
            if len(_views) > 10_000:
                _views.clear()
            for pk, endpoint in endpoints.items():
                view = EndpointView(endpoint)
                _views[(pk, endpoint.updated_at)] = view
                found[pk] = view
    return found
