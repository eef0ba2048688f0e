"""Claiming due deliveries: one conditional UPDATE that stamps a claim token and
a lease, so a task that runs twice sends once, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import datetime
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from callbacks.delivery.policy import Job
from callbacks.models import Delivery, DeliveryState, Endpoint

RoomFor = Callable[[set[int]], dict[int, int]]


def room_in_database(endpoint_ids: set[int]) -> dict[int, int]:
    """Room per endpoint counted from rows being sent by any process (single sends)."""
    busy = dict(
        Delivery.objects.filter(endpoint_id__in=endpoint_ids, state=DeliveryState.SENDING,
                                lease_expires_at__gt=timezone.now())
        .values("endpoint_id").annotate(n=Count("id")).values_list("endpoint_id", "n")
    )
    cap = settings.CALLBACK_ENDPOINT_INFLIGHT
    return {endpoint_id: max(0, cap - busy.get(endpoint_id, 0)) for endpoint_id in endpoint_ids}


def _interleave(candidates: list[tuple], room: dict[int, int], limit: int) -> tuple[list, set]:
    """Pick ids round-robin across endpoints within each endpoint's room, up to ``limit``.

    Returns (chosen ids, ids left out only because of ``limit``).
    """
    queues: dict[int, list] = defaultdict(list)
    for delivery_id, endpoint_id in candidates:
        if len(queues[endpoint_id]) < room.get(endpoint_id, 0):
            queues[endpoint_id].append(delivery_id)
    chosen: list = []
    while len(chosen) < limit and any(queues.values()):
        for endpoint_id in list(queues):
            if queues[endpoint_id] and len(chosen) < limit:
                chosen.append(queues[endpoint_id].pop(0))
    return chosen, {pk for queue in queues.values() for pk in queue}


@dataclass
class Claim:
    jobs: list[Job] = field(default_factory=list)
    # Due ids left pending because their endpoint had no room, by endpoint.
    waiting: dict[int, list[str]] = field(default_factory=dict)
    # Due ids left pending only because of the batch limit: claim them next.
    more: list[str] = field(default_factory=list)


def claim(ids: list[str], limit: int, room_for: RoomFor = room_in_database) -> Claim:
    """Claim up to ``limit`` of ``ids`` that are pending and due, within each endpoint's room."""
    if connection.vendor == "postgresql":
        return _claim_returning(ids, limit, room_for)
    now = timezone.now()
    # Sorted here, not in SQL: ORDER BY would tempt the planner into walking the
    # whole due index instead of looking the ids up by primary key.
    rows = Delivery.objects.filter(
        id__in=ids, state=DeliveryState.PENDING, next_attempt_at__lte=now
    ).order_by().values_list("id", "endpoint_id", "next_attempt_at")
    candidates = [(pk, endpoint) for pk, endpoint, _ in sorted(rows, key=lambda row: row[2])]
    if not candidates:
        return Claim()
    chosen, over_limit = _interleave(candidates, room_for({e for _, e in candidates}), limit)
    chosen_set = set(chosen)
    result = Claim(more=[str(pk) for pk in over_limit])
    for pk, endpoint_id in candidates:
        if pk not in chosen_set and pk not in over_limit:
            result.waiting.setdefault(endpoint_id, []).append(str(pk))
    if not chosen:
        return result
    token = uuid.uuid4()
    lease = now + datetime.timedelta(seconds=settings.CALLBACK_LEASE_SECONDS)
    Delivery.objects.filter(
        id__in=chosen, state=DeliveryState.PENDING, next_attempt_at__lte=now
    ).update(state=DeliveryState.SENDING, claim_token=token, lease_expires_at=lease)
    # values_list, not model instances: this runs for every delivery sent.
    claimed = list(Delivery.objects.filter(claim_token=token).values_list(*_JOB_COLUMNS))
    result.jobs = _jobs(claimed, token)
    return result


_CLAIM_SQL = """
WITH claimed AS (
    UPDATE callbacks_delivery SET state = 'sending', claim_token = %(token)s,
           lease_expires_at = %(lease)s
    WHERE id IN (
        SELECT id FROM callbacks_delivery
        WHERE id = ANY(%(ids)s) AND state = 'pending' AND next_attempt_at <= %(now)s
        ORDER BY next_attempt_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
    RETURNING id, endpoint_id, attempt_count, next_attempt_at, test, replay, event_id
)
SELECT c.id, c.endpoint_id, c.attempt_count, c.next_attempt_at, c.test, c.replay, c.event_id,
       e.type, e.created_at, e.body, ep.updated_at
FROM claimed c JOIN callbacks_event e ON e.id = c.event_id
     JOIN callbacks_endpoint ep ON ep.id = c.endpoint_id
ORDER BY c.next_attempt_at
"""


def _claim_returning(ids: list[str], limit: int, room_for: RoomFor) -> Claim:
    """PostgreSQL: claim and read in one statement, then give back what exceeds a room."""
    now, token = timezone.now(), uuid.uuid4()
    lease = now + datetime.timedelta(seconds=settings.CALLBACK_LEASE_SECONDS)
    wanted = [uuid.UUID(str(i)) for i in ids]
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM_SQL, {"token": token, "lease": lease, "ids": wanted, "now": now,
                                    "limit": limit})
        rows = cursor.fetchall()
    result = Claim()
    if len(wanted) > limit:
        returned = {row[0] for row in rows}
        result.more = [str(i) for i in wanted if i not in returned]
    room = room_for({row[1] for row in rows})
    keep, give_back = [], []
    for row in rows:
        if room.get(row[1], 0) > 0:
            room[row[1]] -= 1
            keep.append(row)
        else:
            give_back.append(row[0])
            result.waiting.setdefault(row[1], []).append(str(row[0]))
    if give_back:
        Delivery.objects.filter(id__in=give_back, claim_token=token).update(
            state=DeliveryState.PENDING, claim_token=None, lease_expires_at=None)
    result.jobs = _jobs(keep, token)
    return result


def _jobs(rows: list[tuple], token: uuid.UUID) -> list[Job]:
    views = endpoint_views({(row[1], row[10]) for row in rows})
    return [_job(row, views[row[1]], token) for row in rows]


_JOB_COLUMNS = ("id", "endpoint_id", "attempt_count", "next_attempt_at", "test", "replay",
                "event_id", "event__type", "event__created_at", "event__body",
                "endpoint__updated_at")


def _job(row: tuple, endpoint: _EndpointView, token: uuid.UUID) -> Job:
    delivery_id, _, attempts, due, test, replay, event_id, event_type, created, body, _ = row
    return Job(
        delivery_id=str(delivery_id), endpoint_id=endpoint.pk, event_id=str(event_id),
        event_type=event_type, event_created_at=created, method=endpoint.method,
        url=endpoint.url, headers=endpoint.headers, secrets=endpoint.secrets, body=bytes(body),
        attempt_number=attempts + 1, due_at=due, test=test,
        extra={"claim_token": str(token), "replay": replay},
    )


_views: dict[tuple[int, object], _EndpointView] = {}
_views_lock = threading.Lock()


def endpoint_views(keys: set[tuple[int, object]]) -> dict[int, _EndpointView]:
    """Decrypted sending details per endpoint, cached per process by (id, updated_at):
    every endpoint service moves ``updated_at``, so a change is seen on the next claim."""
    with _views_lock:
        found = {key[0]: _views[key] for key in keys if key in _views}
    missing = {pk for pk, _ in keys} - set(found)
    if missing:
        endpoints = Endpoint.objects.in_bulk(missing)
        with _views_lock:
            if len(_views) > 10_000:
                _views.clear()
            for pk, endpoint in endpoints.items():
                view = _EndpointView(endpoint)
                _views[(pk, endpoint.updated_at)] = view
                found[pk] = view
    return found


class _EndpointView:
    """An endpoint's sending details, decrypted once."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.pk, self.method, self.url = endpoint.pk, endpoint.method, endpoint.url
        self.headers = dict(endpoint.headers or {})
        self._endpoint = Endpoint(secret=endpoint.secret, previous_secret=endpoint.previous_secret,
                                  previous_secret_expires_at=endpoint.previous_secret_expires_at)

    @property
    def secrets(self) -> list[str]:
        """The secrets that sign now (the old one too while a rotation overlaps)."""
        return self._endpoint.signing_secrets()


def job_for(delivery: Delivery, endpoint: _EndpointView | Endpoint | None = None) -> Job:
    """Read what one attempt needs (decrypted headers and secrets) into a Job."""
    if endpoint is None or isinstance(endpoint, Endpoint):
        endpoint = _EndpointView(endpoint or delivery.endpoint)
    event = delivery.event
    return Job(
        delivery_id=str(delivery.id), endpoint_id=endpoint.pk, event_id=str(event.id),
        event_type=event.type, event_created_at=event.created_at, method=endpoint.method,
        url=endpoint.url, headers=endpoint.headers, secrets=endpoint.secrets,
        body=bytes(event.body), attempt_number=delivery.attempt_count + 1,
        due_at=delivery.next_attempt_at, test=delivery.test,
        extra={"claim_token": str(delivery.claim_token), "replay": delivery.replay},
    )
