"""Writing attempt results in bulk, each delivery's bookkeeping once per batch: the rows
locked and read in one statement, the attempts in one ``COPY``, the new states in one
UPDATE from arrays, the endpoints' health and breakers in one more
(callbacks.delivery.breaker), the hourly rollup in one upsert. ``record`` returns what
must follow (retries, endpoints to disable, circuits that opened or closed, endpoints
whose next delivery of a key may go) and leaves acting on it to the layer above.
"""

from __future__ import annotations

import bisect
import datetime
import json
import logging
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import cast

from django.db import connection, transaction
from django.utils import timezone

from callbacks.delivery import breaker
from callbacks.delivery.metrics import (
    ATTEMPT_SECONDS,
    DELIVERIES,
    LATENCY_SECONDS,
    OUTCOMES,
    TEST_DELIVERIES,
)
from callbacks.delivery.outbox import execute
from callbacks.delivery.policy import Outcome, Result, next_delay
from callbacks.models import LATENCY_BOUNDS_MS, Attempt, DeliveryState, Endpoint
from domains.formats import mask_headers, mask_url
from domains.models import AuditEntry

log = logging.getLogger(__name__)

# The audit action of a circuit opening: the recorder writes one per opening, and the
# endpoint's health (callbacks.endpoint_health) counts them.
CIRCUIT_OPENED = "endpoint.circuit_opened"

ATTEMPT_COLUMNS = (
    "delivery_id", "number", "due_at", "started_at", "finished_at", "duration_ms",
    "request_method", "request_url", "request_headers", "response_status", "response_headers",
    "response_body", "error", "configuration_error", "succeeded", "probe",
)


def _attempt_row(result: Result) -> tuple:
    verdict, job = result.verdict, result.job
    return (
        uuid.UUID(job.delivery_id), job.attempt_number, job.due_at, result.started_at,
        result.finished_at, result.duration_ms, result.request.method,
        mask_url(job.shown_url or result.request.url)[:2048],
        json.dumps(mask_headers(result.request.headers), ensure_ascii=False), result.status,
        json.dumps([[k, v] for k, v in result.response_headers][:100], ensure_ascii=False),
        result.response_body.replace("\x00", "\ufffd"), result.error[:500],
        verdict.configuration_error, verdict.outcome == Outcome.SUCCEEDED, job.probe,
    )


def _insert_attempts(results: list[Result]) -> None:
    """Insert attempt rows with one COPY."""
    sql = f"COPY {Attempt._meta.db_table} ({', '.join(ATTEMPT_COLUMNS)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for result in results:
            copy.write_row(_attempt_row(result))


@dataclass(slots=True)
class _State:
    """A delivery's row as the recorder changes it."""

    id: uuid.UUID
    endpoint_id: int
    test: bool
    next_attempt_at: datetime.datetime
    off_schedule_attempts: int
    order_key: str | None
    created_at: datetime.datetime
    state: str = DeliveryState.SENDING
    attempt_count: int = 0
    last_status_code: int | None = None
    last_error: str = ""
    finished_at: datetime.datetime | None = None


def _set(moment: datetime.datetime | None) -> datetime.datetime:
    """A time the delivery's state says is set (mypy cannot tell)."""
    return cast(datetime.datetime, moment)


def _next_state(delivery: _State, result: Result, live: bool) -> None:
    """Apply one result to its delivery row (in memory)."""
    verdict = result.verdict
    delivery.attempt_count = result.job.attempt_number
    delivery.last_status_code = result.status
    succeeded = verdict.outcome == Outcome.SUCCEEDED
    delivery.last_error = "" if succeeded else breaker.describe_failure(result)
    finished = result.finished_at
    if succeeded:
        delivery.state, delivery.finished_at = DeliveryState.SUCCEEDED, finished
        return
    if result.job.probe and verdict.trips_breaker and live:
        # A failed probe: the endpoint is still down, which is not this delivery's fault.
        # It waits behind the circuit, due as it was, its schedule where it was.
        delivery.off_schedule_attempts += 1
        delivery.state = DeliveryState.PENDING
        return
    delay = (None if (delivery.test or verdict.outcome == Outcome.GONE)
             else next_delay(result.job.schedule_slot or result.job.attempt_number,
                             schedule=result.job.schedule))
    if delay is None:
        delivery.state, delivery.finished_at = DeliveryState.FAILED, finished
    elif not live:
        delivery.state, delivery.finished_at = DeliveryState.CANCELLED, finished
        delivery.last_error = "Endpoint disabled or deleted; " + delivery.last_error
    else:
        if verdict.retry_after is not None:
            delay = max(delay, verdict.retry_after)
        delivery.state = DeliveryState.PENDING
        delivery.next_attempt_at = finished + datetime.timedelta(seconds=delay)


@dataclass
class FollowUp:
    """What must happen after a batch is recorded."""

    # (delivery id, endpoint id, seconds until due) of retries now scheduled.
    retries: list[tuple[str, int, float]] = field(default_factory=list)
    # Endpoints to disable, with the reason: 410 Gone, or failing for too long.
    disable: dict[int, str] = field(default_factory=dict)
    # Endpoints whose circuit opened or closed in this batch ("opened" / "closed").
    circuits: dict[int, str] = field(default_factory=dict)
    # Endpoints whose circuit closed (every waiting delivery is due now).
    released: set[int] = field(default_factory=set)
    # [delivery id, endpoint id] of deliveries now first of their key (the one before them
    # finished): to claim at once.
    ready: list[list] = field(default_factory=list)
    # Endpoints whose failing episode began or ended: operational events to announce.
    announce: set[int] = field(default_factory=set)


_LOCK_SQL = """
SELECT id, state, claim_token, endpoint_id, test, next_attempt_at, off_schedule_attempts,
       order_key, created_at
FROM callbacks_delivery WHERE id = ANY(%s) FOR UPDATE
"""

_STATES_SQL = """
UPDATE callbacks_delivery d SET state = u.state, attempt_count = u.attempts,
    last_status_code = u.status, last_error = u.error, claim_token = NULL,
    lease_expires_at = NULL, finished_at = u.finished, next_attempt_at = u.due,
    off_schedule_attempts = u.off
FROM unnest(%s::uuid[], %s::varchar[], %s::int[], %s::int[], %s::varchar[],
            %s::timestamptz[], %s::timestamptz[], %s::int[])
     AS u (id, state, attempts, status, error, finished, due, off)
WHERE d.id = u.id
"""


def record(results: list[Result]) -> FollowUp:
    """Write a batch of results; return what must follow."""
    if not results:
        return FollowUp()
    by_id = {uuid.UUID(r.job.delivery_id): r for r in results}
    now = timezone.now()
    with transaction.atomic():
        existing, mine = set(), []
        for pk, state, token, endpoint_id, test, due, off, key, created in execute(
                _LOCK_SQL, [list(by_id)]).fetchall():
            existing.add(pk)
            # A result whose claim was lost (taken back, claimed again) is not applied.
            if state == DeliveryState.SENDING and str(token) == by_id[pk].job.claim_token:
                mine.append(_State(pk, endpoint_id, test, due, off, key, created))
        counted = [d for d in mine if not d.test]
        breakers = breaker.lock({d.endpoint_id for d in mine})
        for delivery in mine:
            row = breakers.get(delivery.endpoint_id)
            _next_state(delivery, by_id[delivery.id], row is not None and row.live)
        # Every request made is logged, but a delivery deleted meanwhile has no log.
        _insert_attempts([r for pk, r in by_id.items() if pk in existing])
        _write_states(mine)
        follow_up = _judge(breakers, [by_id[d.id] for d in counted], now)
        _update_rollup([by_id[d.id] for d in counted], counted)
        _hold_exhausted([d for d in counted if d.state == DeliveryState.FAILED], now)
    _count(results, mine, by_id)
    _log(mine, by_id)
    follow_up.retries += [(str(d.id), d.endpoint_id,
                           max(0.0, (d.next_attempt_at - now).total_seconds()))
                          for d in mine if d.state == DeliveryState.PENDING]
    follow_up.ready = next_in_order({(d.endpoint_id, d.order_key) for d in mine
                                     if d.order_key and d.state != DeliveryState.PENDING})
    return follow_up


_NEXT_SQL = """
SELECT n.id, k.endpoint_id FROM unnest(%s::bigint[], %s::varchar[]) AS k (endpoint_id, order_key)
CROSS JOIN LATERAL (
    SELECT d.id, d.state FROM callbacks_delivery d
    WHERE d.endpoint_id = k.endpoint_id AND d.order_key = k.order_key
      AND d.state IN ('pending', 'sending') AND d.sequence IS NOT NULL
    ORDER BY d.sequence LIMIT 1) AS n
WHERE n.state = 'pending'
"""


def next_in_order(keys: set[tuple[int, str | None]]) -> list[list]:
    """For each (endpoint, order key), the delivery now first of that key if it is pending,
    as [delivery id, endpoint id] pairs (one index probe per key)."""
    pairs = sorted((pk, key) for pk, key in keys if key)
    if not pairs:
        return []
    rows = execute(_NEXT_SQL, [[pk for pk, _ in pairs], [key for _, key in pairs]])
    return [[str(pk), endpoint_id] for pk, endpoint_id in rows]


def _write_states(deliveries: list[_State]) -> None:
    if deliveries:
        execute(_STATES_SQL, [
            [d.id for d in deliveries], [d.state for d in deliveries],
            [d.attempt_count for d in deliveries], [d.last_status_code for d in deliveries],
            [d.last_error for d in deliveries], [d.finished_at for d in deliveries],
            [d.next_attempt_at for d in deliveries],
            [d.off_schedule_attempts for d in deliveries]])


def _judge(breakers: dict[int, breaker.Breaker], counted: list[Result],
           now: datetime.datetime) -> FollowUp:
    """Health and breakers of the endpoints of the counted results; which to disable."""
    per_endpoint: dict[int, list[Result]] = defaultdict(list)
    for result in counted:
        per_endpoint[result.job.endpoint_id].append(result)
    follow_up = FollowUp()
    judged = []
    for pk, items in per_endpoint.items():
        row = breakers.get(pk)
        if row is None:
            continue
        judged.append(row)
        was = row.health_state
        changed = row.judge(items, now)
        if row.health_state != was:
            follow_up.announce.add(pk)
        if changed:
            follow_up.circuits[pk] = changed
        gone = any(r.verdict.outcome == Outcome.GONE for r in items)
        reason = row.broken(gone, now)
        if reason:
            follow_up.disable[pk] = reason
    breaker.write(judged)
    _audit_openings({pk: breakers[pk].breaker_failures for pk, state in follow_up.circuits.items()
                     if state == breaker.OPENED})
    for pk in [pk for pk, state in follow_up.circuits.items() if state == breaker.CLOSED]:
        release_waiting(pk, now)
        follow_up.released.add(pk)
    return follow_up


def _audit_openings(opened: dict[int, int]) -> None:
    """Write each circuit that opened to its domain's audit log, in the recorder's
    transaction: the one durable record of an opening, which the endpoint's health counts."""
    if opened:
        for endpoint in Endpoint.objects.filter(pk__in=opened).select_related("domain"):
            AuditEntry.objects.record(actor=None, action=CIRCUIT_OPENED, obj=endpoint,
                                      object_id=endpoint.endpoint_id,
                                      after={"consecutive_failures": opened[endpoint.pk]})


# Deliveries that failed for good wait on their endpoint's row for the delivery.exhausted
# digest (callbacks/operational.py): the count, the first 20 ids, since when.
_EXHAUSTED_SQL = """
UPDATE callbacks_endpoint e SET exhausted_count = e.exhausted_count + cardinality(u.ids),
    exhausted_ids = (SELECT coalesce(jsonb_agg(i), '[]') FROM (SELECT i FROM
        jsonb_array_elements(e.exhausted_ids || to_jsonb(u.ids)) AS i LIMIT 20) AS first),
    exhausted_since = coalesce(e.exhausted_since, %s)
FROM (SELECT endpoint_id, array_agg(id::text) AS ids
      FROM unnest(%s::bigint[], %s::uuid[]) AS x (endpoint_id, id) GROUP BY 1) AS u
WHERE e.id = u.endpoint_id
"""


def _hold_exhausted(failed: list[_State], now: datetime.datetime) -> None:
    if failed:
        execute(_EXHAUSTED_SQL, [now, [d.endpoint_id for d in failed], [d.id for d in failed]])


def release_waiting(endpoint_id: int, now: datetime.datetime) -> None:
    """A circuit closed: every waiting delivery of the endpoint is due now."""
    with connection.cursor() as cursor:
        cursor.execute("UPDATE callbacks_delivery SET next_attempt_at = %s WHERE endpoint_id = %s"
                       " AND state = 'pending' AND next_attempt_at > %s", [now, endpoint_id, now])


def _count(results: list[Result], mine: list[_State], by_id: dict[uuid.UUID, Result]) -> None:
    """Add the batch to the metrics: each outcome once, then each attempt's times."""
    for (state, test), count in Counter((d.state, d.test) for d in mine).items():
        (TEST_DELIVERIES if test else DELIVERIES)[state].inc(count)
    for result in results:
        if not result.job.test:
            ATTEMPT_SECONDS.observe((result.finished_at - result.started_at).total_seconds())
    for delivery in mine:
        job = by_id[delivery.id].job
        if delivery.state == DeliveryState.SUCCEEDED and not (job.test or job.replay):
            LATENCY_SECONDS.observe(
                (_set(delivery.finished_at) - job.event_created_at).total_seconds())


def _log(mine: list[_State], by_id: dict[uuid.UUID, Result]) -> None:
    """One line per delivery attempt recorded, with its ids as fields."""
    if not log.isEnabledFor(logging.INFO):
        return
    for delivery in mine:
        result = by_id[delivery.id]
        job, outcome = result.job, OUTCOMES[delivery.state]
        log.info(
            "delivery %s attempt %d: %s (%s, %d ms)", job.delivery_id, job.attempt_number,
            outcome, f"HTTP {result.status}" if result.status else result.error[:200],
            result.duration_ms,
            extra={"domain": job.domain, "endpoint_id": job.endpoint_public_id,
                   "delivery_id": job.delivery_id, "event_id": job.event_id,
                   "event_type": job.event_type, "attempt": job.attempt_number,
                   "outcome": outcome, "status": result.status,
                   "duration_ms": result.duration_ms, "test": job.test,
                   "request_id": job.request_id},
        )


def _hour(moment: datetime.datetime) -> datetime.datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


_ROLLUP_SQL = """
WITH hourly AS (
    INSERT INTO callbacks_endpointhourlystat (endpoint_id, hour, succeeded, failed, delivered,
                                              gave_up)
    SELECT * FROM unnest(%s::bigint[], %s::timestamptz[], %s::int[], %s::int[], %s::int[],
                         %s::int[]) ORDER BY 1, 2
    ON CONFLICT (endpoint_id, hour) DO UPDATE SET
        succeeded = callbacks_endpointhourlystat.succeeded + excluded.succeeded,
        failed = callbacks_endpointhourlystat.failed + excluded.failed,
        delivered = callbacks_endpointhourlystat.delivered + excluded.delivered,
        gave_up = callbacks_endpointhourlystat.gave_up + excluded.gave_up
)
INSERT INTO callbacks_endpointlatencystat (endpoint_id, hour, bucket, count)
SELECT * FROM unnest(%s::bigint[], %s::timestamptz[], %s::int[], %s::int[]) ORDER BY 1, 2, 3
ON CONFLICT (endpoint_id, hour, bucket) DO UPDATE
SET count = callbacks_endpointlatencystat.count + excluded.count
"""


def _update_rollup(results: Iterable[Result], deliveries: Iterable[_State]) -> None:
    """Add this batch to the per-endpoint hourly counts: finished attempts by the hour they
    finished (and their latency histogram), deliveries that ended by the hour they were
    created in; one statement, rows in key order (two recorders lock them in one order)."""
    # (endpoint, hour) -> [attempts ok, attempts failed, delivered, gave up]
    counts: dict[tuple[int, datetime.datetime], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    latency: Counter[tuple[int, datetime.datetime, int]] = Counter()
    for result in results:
        hour = _hour(result.finished_at)
        ok = result.verdict.outcome == Outcome.SUCCEEDED
        counts[(result.job.endpoint_id, hour)][0 if ok else 1] += 1
        bucket = bisect.bisect_left(LATENCY_BOUNDS_MS, result.duration_ms)
        latency[(result.job.endpoint_id, hour, bucket)] += 1
    for delivery in deliveries:
        if delivery.state in (DeliveryState.SUCCEEDED, DeliveryState.FAILED):
            hour = _hour(delivery.created_at)
            ok = delivery.state == DeliveryState.SUCCEEDED
            counts[(delivery.endpoint_id, hour)][2 if ok else 3] += 1
    if counts:
        rows, buckets = sorted(counts.items()), sorted(latency.items())
        columns = [[k[0] for k, _ in rows], [k[1] for k, _ in rows]]
        columns += [[n[i] for _, n in rows] for i in range(4)]
        columns += [[k[i] for k, _ in buckets] for i in range(3)] + [[n for _, n in buckets]]
        execute(_ROLLUP_SQL, columns)
