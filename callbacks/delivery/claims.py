"""Claiming due deliveries: one conditional UPDATE that stamps a claim token and a
lease, so a task that runs twice sends once.

A claim takes at most ``limit`` of the ids it is given, whatever plan the database
picks, and never more than each endpoint's limits allow across every worker: the
in-flight cap (``CALLBACK_ENDPOINT_INFLIGHT``: deliveries being sent whose lease has
not expired, so a killed worker's slots come back with its leases) and the
endpoint's ``rate_limit`` (each claimed delivery gets the moment it may start,
1/rate apart, at most one second ahead). Both are judged under a lock on the
endpoint's ``EndpointSlot`` row.

A delivery is not claimed while its endpoint holds it back (``held_back``: an open
circuit, a Retry-After pause) or, on a ``per_key`` endpoint, while an earlier
delivery of its key is pending or being sent (``behind_in_order``).
"""

from __future__ import annotations

import datetime
import math
import threading
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from callbacks.delivery.policy import RESERVED_HEADERS, Job, live_secrets
from callbacks.models import (
    Delivery,
    DeliveryState,
    Endpoint,
    EndpointSlot,
    SigningScheme,
)

# How far ahead a rate-limited endpoint's deliveries are claimed (each waits for its start).
RATE_HORIZON = 1.0
# How soon to ask again for ids an endpoint's in-flight cap held back in another process.
CAP_RETRY = 0.05


def endpoints_of(ids: Sequence[str]) -> dict[int, list[str]]:
    """Group the pending ones among ``ids`` by endpoint (for ids that came without one)."""
    grouped: dict[int, list[str]] = defaultdict(list)
    rows = Delivery.objects.filter(id__in=list(ids), state=DeliveryState.PENDING)
    for pk, endpoint_id in rows.order_by().values_list("id", "endpoint_id"):
        grouped[endpoint_id].append(str(pk))
    return dict(grouped)


def claim(ids: Sequence[str], limit: int) -> list[Job]:
    """Claim up to ``limit`` of ``ids`` that are pending and due, oldest due first."""
    return claim_grouped(endpoints_of(ids), limit).jobs


@dataclass
class Claimed:
    jobs: list[Job] = field(default_factory=list)
    # Ids an endpoint's limits held back this time, per endpoint, and when to ask again
    # (seconds from now); the others given and not claimed are not due, not first of
    # their key, or taken elsewhere.
    deferred: dict[int, list[str]] = field(default_factory=dict)
    retry_in: dict[int, float] = field(default_factory=dict)
    # Of those, the endpoints held back by the in-flight cap alone (room comes back when
    # a request finishes, here or in another worker).
    capped: set[int] = field(default_factory=set)


def claim_grouped(taken: dict[int, list[str]], limit: int,
                  answered: dict[int, int] | None = None,
                  worker: uuid.UUID | None = None) -> Claimed:
    """Claim up to ``limit`` of the ids given per endpoint, within each endpoint's limits.

    ``answered``: per endpoint, the caller's requests already answered and not yet
    recorded (still ``sending`` in the database, but no longer in flight). ``worker``:
    the claiming worker's id (callbacks.delivery.workers), stamped on the claims so they
    come back when its heartbeat stops; without one, a token of the claim's own."""
    if not taken or limit <= 0:
        return Claimed()
    now, token = timezone.now(), worker or uuid.uuid4()
    lease = now + datetime.timedelta(seconds=settings.CALLBACK_LEASE_SECONDS)
    with transaction.atomic():
        limits = _limits(taken, now, answered or {})
        allowed: list[str] = []
        claimed = Claimed()
        for endpoint_id, ids in taken.items():
            quota = limits[endpoint_id].quota(len(ids))
            allowed += ids[:quota]
            if quota < len(ids):
                claimed.deferred[endpoint_id] = ids[quota:]
        if allowed:
            claimed.jobs = _jobs(_claim_returning(allowed, limit, now, lease, token), token)
        _schedule(claimed.jobs, limits)
        claimed.retry_in = {pk: limits[pk].retry_in(now) for pk in claimed.deferred}
        claimed.capped = {pk for pk in claimed.deferred if not limits[pk].rate}
    return claimed


class _Limit:
    """One endpoint's room at claim time: free in-flight slots and rate-limited starts."""

    def __init__(self, free: int, rate: int | None, next_start: datetime.datetime | None,
                 now: datetime.datetime) -> None:
        self.free, self.rate, self.now = max(free, 0), rate, now
        self.first = max(now, next_start or now)  # when the next delivery may start

    def quota(self, wanted: int) -> int:
        allowed = min(wanted, self.free)
        if self.rate:
            ahead = (self.horizon - self.first).total_seconds()
            allowed = min(allowed, max(0, math.ceil(ahead * self.rate)))
        return allowed

    @property
    def horizon(self) -> datetime.datetime:
        return self.now + datetime.timedelta(seconds=RATE_HORIZON)

    def retry_in(self, now: datetime.datetime) -> float:
        if not self.rate:
            return CAP_RETRY
        return max(0.01, (self.first - now).total_seconds() - RATE_HORIZON)

    def starts(self, count: int) -> list[datetime.datetime]:
        """The start of each of ``count`` claimed deliveries, and the next free start."""
        gap = datetime.timedelta(seconds=1 / self.rate) if self.rate else datetime.timedelta()
        times = [self.first + gap * i for i in range(count)]
        self.first += gap * count
        return times


def _limits(taken: dict[int, list[str]], now: datetime.datetime,
            answered: dict[int, int]) -> dict[int, _Limit]:
    """Lock the endpoints' slot rows (sorted, so claimers cannot deadlock) and read how
    much room each has across every worker."""
    wanted = sorted(taken)
    sending = (Delivery.objects.filter(endpoint_id=OuterRef("endpoint_id"),
                                       state=DeliveryState.SENDING, test=False,
                                       lease_expires_at__gt=now)
               .order_by().values("endpoint_id").annotate(n=Count("id")).values("n"))
    slots = (EndpointSlot.objects.filter(endpoint_id__in=wanted).order_by("endpoint_id")
             .annotate(sending=Coalesce(Subquery(sending), 0)).select_for_update(of=("self",)))
    columns = ("endpoint_id", "next_start_at", "endpoint__rate_limit", "sending")
    rows = list(slots.values_list(*columns))
    if len(rows) < len(wanted):  # endpoints claimed for the first time
        EndpointSlot.objects.bulk_create([EndpointSlot(endpoint_id=pk) for pk in wanted],
                                         ignore_conflicts=True)
        rows = list(slots.values_list(*columns))
    cap = settings.CALLBACK_ENDPOINT_INFLIGHT
    limits = {pk: _Limit(cap - max(busy - answered.get(pk, 0), 0), rate, next_start, now)
              for pk, next_start, rate, busy in rows}
    for pk in wanted:  # an endpoint deleted meanwhile: its ids claim nothing anyway
        limits.setdefault(pk, _Limit(cap, None, None, now))
    return limits


def _schedule(jobs: list[Job], limits: dict[int, _Limit]) -> None:
    """Give each job of a rate-limited endpoint its start; store each endpoint's next."""
    per_endpoint: dict[int, list[Job]] = defaultdict(list)
    for job in jobs:
        if limits[job.endpoint_id].rate:
            per_endpoint[job.endpoint_id].append(job)
    for endpoint_id, group in per_endpoint.items():
        limit = limits[endpoint_id]
        for job, start in zip(group, limit.starts(len(group)), strict=True):
            job.not_before = start
        EndpointSlot.objects.filter(pk=endpoint_id).update(next_start_at=limit.first)


# The LIMIT sits in an ARRAY(...) sub-select, which PostgreSQL runs once (an InitPlan):
# no plan can re-run it per row and claim more than ``limit``, and the UPDATE finds the
# picked rows by primary key.
_CLAIM_SQL = """
WITH claimed AS (
    UPDATE callbacks_delivery SET state = 'sending', claim_token = %(token)s,
           lease_expires_at = %(lease)s
    WHERE id = ANY(ARRAY(
        SELECT d.id FROM callbacks_delivery d
        WHERE d.id = ANY(%(ids)s) AND d.state = 'pending' AND d.next_attempt_at <= %(now)s
          AND (d.test OR NOT EXISTS (
              SELECT 1 FROM callbacks_endpoint o WHERE o.id = d.endpoint_id
              AND ((o.circuit_opened_at IS NOT NULL AND o.probe_delivery_id IS DISTINCT FROM d.id)
                   OR o.paused_until > %(now)s)))
          AND (d.order_key IS NULL OR NOT EXISTS (
              SELECT 1 FROM callbacks_delivery p WHERE p.endpoint_id = d.endpoint_id
              AND p.order_key = d.order_key AND p.sequence < d.sequence
              AND p.state IN ('pending', 'sending') AND p.sequence IS NOT NULL))
        ORDER BY d.next_attempt_at, d.sequence LIMIT %(limit)s FOR UPDATE SKIP LOCKED))
    RETURNING id, endpoint_id, attempt_count, next_attempt_at, test, replay, event_id,
              off_schedule_attempts, order_key, sequence
)
SELECT c.id, c.endpoint_id, c.attempt_count, c.next_attempt_at, c.test, c.replay, c.event_id,
       e.type, e.created_at, e.body, ep.updated_at, c.off_schedule_attempts,
       c.order_key, c.sequence, ep.probe_delivery_id IS NOT NULL AND ep.probe_delivery_id = c.id
FROM claimed c JOIN callbacks_event e ON e.id = c.event_id
     JOIN callbacks_endpoint ep ON ep.id = c.endpoint_id
ORDER BY c.next_attempt_at
"""


def _claim_returning(ids: Sequence[str], limit: int, now: datetime.datetime,
                     lease: datetime.datetime, token: uuid.UUID) -> list[tuple]:
    """Lock, claim and read in one statement."""
    wanted = [uuid.UUID(str(i)) for i in ids]
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM_SQL, {"token": token, "lease": lease, "ids": wanted, "now": now,
                                    "limit": limit})
        return cursor.fetchall()


def held_back(now: datetime.datetime) -> Q:
    """Deliveries their endpoint holds back at ``now``: an open circuit holds back all but
    its probe, a Retry-After pause all; test events never wait (the claim SQL above says
    the same)."""
    circuit = Q(endpoint__circuit_opened_at__isnull=False) & ~Q(
        endpoint__probe_delivery_id=F("id")
    )
    return Q(test=False) & (circuit | Q(endpoint__paused_until__gt=now))


def behind_in_order() -> Q:
    """Deliveries of a ``per_key`` endpoint with an earlier one of their key still pending
    or being sent (the claim SQL above says the same)."""
    earlier = Delivery.objects.filter(
        endpoint_id=OuterRef("endpoint_id"), order_key=OuterRef("order_key"),
        sequence__lt=OuterRef("sequence"), sequence__isnull=False,
        state__in=(DeliveryState.PENDING, DeliveryState.SENDING),
    )
    return Q(order_key__isnull=False) & Q(Exists(earlier))


def _jobs(rows: list[tuple], token: uuid.UUID) -> list[Job]:
    """Build the Jobs of claimed rows (the one place a Job is made)."""
    views = endpoint_views({(row[1], row[10]) for row in rows})
    jobs = []
    for row in rows:
        (delivery_id, endpoint_id, attempts, due, test, replay, event_id, kind, created, body,
         _, off_schedule, order_key, sequence, probe) = row
        endpoint = views[endpoint_id]
        jobs.append(Job(
            delivery_id=str(delivery_id), endpoint_id=endpoint_id, event_id=str(event_id),
            event_type=kind, event_created_at=created, method=endpoint.method,
            url=endpoint.url, headers=endpoint.headers, secrets=endpoint.secrets(),
            body=bytes(body), attempt_number=attempts + 1, due_at=due,
            schedule_slot=attempts - off_schedule + 1, probe=bool(probe) and not test,
            claim_token=str(token), test=test, replay=replay,
            endpoint_public_id=endpoint.public_id, domain=endpoint.domain,
            order_key=order_key if order_key and sequence else "", sequence=sequence or 0,
        ))
    return jobs


class EndpointView:
    """An endpoint's sending details, decrypted once."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.pk, self.method, self.url = endpoint.pk, endpoint.method, endpoint.url
        self.public_id, self.domain = endpoint.endpoint_id, endpoint.domain.name
        # An endpoint saved before a name was reserved keeps working, without that header.
        self.headers = {name: value for name, value in (endpoint.headers or {}).items()
                        if name.lower() not in RESERVED_HEADERS}
        # Read here rather than through a model method: the engine stays out of models.py.
        self.keys = [(key.secret, key.expires_at) for key in endpoint.signing_keys.all()
                     if key.scheme == SigningScheme.HMAC]  # judged at each claim: ends pass

    def secrets(self) -> list[str]:
        """The secrets that sign now (older keys too while their rotation overlaps)."""
        return live_secrets(self.keys, timezone.now())


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
