"""Claiming due deliveries: one conditional UPDATE that stamps a claim token and a
lease, so a task that runs twice sends once, on SQLite and PostgreSQL alike.

The caller (the dispatcher) decides how many of each endpoint's deliveries it
has room for; a claim takes at most ``limit`` of the ids it is given, whatever
plan the database picks.
"""

from __future__ import annotations

import datetime
import threading
import uuid
from collections import defaultdict
from collections.abc import Sequence

from django.conf import settings
from django.db import connection
from django.db.models import F, Q
from django.utils import timezone

from callbacks.delivery.policy import Job, signing_secrets
from callbacks.models import Delivery, DeliveryState, Endpoint


def endpoints_of(ids: Sequence[str]) -> dict[int, list[str]]:
    """Group the pending ones among ``ids`` by endpoint (for ids that came without one)."""
    grouped: dict[int, list[str]] = defaultdict(list)
    rows = Delivery.objects.filter(id__in=list(ids), state=DeliveryState.PENDING)
    for pk, endpoint_id in rows.order_by().values_list("id", "endpoint_id"):
        grouped[endpoint_id].append(str(pk))
    return dict(grouped)


def claim(ids: Sequence[str], limit: int) -> list[Job]:
    """Claim up to ``limit`` of ``ids`` that are pending and due, oldest due first."""
    if not ids or limit <= 0:
        return []
    now, token = timezone.now(), uuid.uuid4()
    lease = now + datetime.timedelta(seconds=settings.CALLBACK_LEASE_SECONDS)
    if connection.vendor == "postgresql":
        rows = _claim_returning(ids, limit, now, lease, token)
    else:
        rows = _claim_portable(ids, limit, now, lease, token)
    return _jobs(rows, token)


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
        ORDER BY d.next_attempt_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED))
    RETURNING id, endpoint_id, attempt_count, next_attempt_at, test, replay, event_id,
              off_schedule_attempts
)
SELECT c.id, c.endpoint_id, c.attempt_count, c.next_attempt_at, c.test, c.replay, c.event_id,
       e.type, e.created_at, e.body, ep.updated_at, c.off_schedule_attempts,
       ep.probe_delivery_id IS NOT NULL AND ep.probe_delivery_id = c.id
FROM claimed c JOIN callbacks_event e ON e.id = c.event_id
     JOIN callbacks_endpoint ep ON ep.id = c.endpoint_id
ORDER BY c.next_attempt_at
"""


def _claim_returning(ids: Sequence[str], limit: int, now: datetime.datetime,
                     lease: datetime.datetime, token: uuid.UUID) -> list[tuple]:
    """PostgreSQL: lock, claim and read in one statement."""
    wanted = [uuid.UUID(str(i)) for i in ids]
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM_SQL, {"token": token, "lease": lease, "ids": wanted, "now": now,
                                    "limit": limit})
        return cursor.fetchall()


_JOB_COLUMNS = ("id", "endpoint_id", "attempt_count", "next_attempt_at", "test", "replay",
                "event_id", "event__type", "event__created_at", "event__body",
                "endpoint__updated_at", "off_schedule_attempts", "endpoint__probe_delivery_id")


def _claim_portable(ids: Sequence[str], limit: int, now: datetime.datetime,
                    lease: datetime.datetime, token: uuid.UUID) -> list[tuple]:
    """SQLite (one writer at a time): pick, claim conditionally, read back by token."""
    # Sorted here, not in SQL: ORDER BY would tempt the planner into walking the
    # whole due index instead of looking the ids up by primary key.
    rows = Delivery.objects.filter(
        ~held_back(now),
        id__in=list(ids), state=DeliveryState.PENDING, next_attempt_at__lte=now,
    ).order_by().values_list("id", "next_attempt_at")
    chosen = [pk for pk, _ in sorted(rows, key=lambda row: row[1])][:limit]
    if not chosen:
        return []
    Delivery.objects.filter(
        id__in=chosen, state=DeliveryState.PENDING, next_attempt_at__lte=now
    ).update(state=DeliveryState.SENDING, claim_token=token, lease_expires_at=lease)
    # values_list, not model instances: this runs for every delivery sent.
    claimed = Delivery.objects.filter(claim_token=token).values_list(*_JOB_COLUMNS)
    return sorted(((*row[:-1], row[-1] == row[0]) for row in claimed), key=lambda row: row[3])


def held_back(now: datetime.datetime) -> Q:
    """Deliveries their endpoint holds back at ``now``: an open circuit holds back all but
    its probe, a Retry-After pause all; test events never wait (the claim SQL above says
    the same for PostgreSQL)."""
    circuit = Q(endpoint__circuit_opened_at__isnull=False) & ~Q(
        endpoint__probe_delivery_id=F("id")
    )
    return Q(test=False) & (circuit | Q(endpoint__paused_until__gt=now))


def _jobs(rows: list[tuple], token: uuid.UUID) -> list[Job]:
    """Build the Jobs of claimed rows (the one place a Job is made)."""
    views = endpoint_views({(row[1], row[10]) for row in rows})
    jobs = []
    for row in rows:
        (delivery_id, endpoint_id, attempts, due, test, replay, event_id, kind, created, body,
         _, off_schedule, probe) = row
        endpoint = views[endpoint_id]
        jobs.append(Job(
            delivery_id=str(delivery_id), endpoint_id=endpoint_id, event_id=str(event_id),
            event_type=kind, event_created_at=created, method=endpoint.method,
            url=endpoint.url, headers=endpoint.headers, secrets=endpoint.secrets(),
            body=bytes(body), attempt_number=attempts + 1, due_at=due,
            schedule_slot=attempts - off_schedule + 1, probe=bool(probe) and not test,
            claim_token=str(token), test=test, replay=replay,
            endpoint_public_id=endpoint.public_id, domain=endpoint.domain,
        ))
    return jobs


class EndpointView:
    """An endpoint's sending details, decrypted once."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.pk, self.method, self.url = endpoint.pk, endpoint.method, endpoint.url
        self.public_id, self.domain = endpoint.endpoint_id, endpoint.domain.name
        self.headers = dict(endpoint.headers or {})
        self.secret, self.previous_secret = endpoint.secret, endpoint.previous_secret
        self.previous_secret_expires_at = endpoint.previous_secret_expires_at

    def secrets(self) -> list[str]:
        """The secrets that sign now (the old one too while a rotation overlaps)."""
        return signing_secrets(self.secret, self.previous_secret,
                               self.previous_secret_expires_at, timezone.now())


_views: dict[tuple[int, object], EndpointView] = {}
_views_lock = threading.Lock()


def endpoint_views(keys: set[tuple[int, object]]) -> dict[int, EndpointView]:
    """Decrypted sending details per endpoint, cached per process by (id, updated_at):
    every endpoint service moves ``updated_at``, so a change is seen on the next claim."""
    with _views_lock:
        found = {key[0]: _views[key] for key in keys if key in _views}
    missing = {pk for pk, _ in keys} - set(found)
    if missing:
        endpoints = Endpoint.objects.select_related("domain").in_bulk(missing)
        with _views_lock:
            if len(_views) > 10_000:
                _views.clear()
            for pk, endpoint in endpoints.items():
                view = EndpointView(endpoint)
                _views[(pk, endpoint.updated_at)] = view
                found[pk] = view
    return found
