"""Writing attempt results in bulk: attempts, delivery states, endpoint health, the
circuit breaker and the hourly rollup. ``record`` returns what must follow
(retries to enqueue, endpoints to disable, circuits that opened or closed) and
leaves acting on it to the layer above.

The circuit breaker (per endpoint): ``CALLBACK_BREAKER_FAILURES`` consecutive
failures that count (``Verdict.trips_breaker``) open it; while it is open the
claim holds the endpoint's deliveries back (tests aside) and the sweeper sends
one probe at a time. A probe that fails that way moves its delivery along no
schedule and doubles the interval (``CALLBACK_BREAKER_PROBE_MIN`` to ``_MAX``);
any answer that does not count (a success, a 4xx, a Retry-After) closes the
circuit, and every waiting delivery is due at once.
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

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from callbacks.delivery.metrics import (
    ATTEMPT_SECONDS,
    DELIVERIES,
    LATENCY_SECONDS,
    OUTCOMES,
    TEST_DELIVERIES,
)
from callbacks.delivery.policy import Outcome, Result, next_delay
from callbacks.models import LATENCY_BOUNDS_MS, Attempt, Delivery, DeliveryState, Endpoint
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


def _attempt_values(result: Result) -> tuple:
    verdict = result.verdict
    return (
        uuid.UUID(result.job.delivery_id), result.job.attempt_number, result.job.due_at,
        result.started_at, result.finished_at, result.duration_ms, result.request.method,
        mask_url(result.request.url)[:2048], mask_headers(result.request.headers),
        result.status, [[k, v] for k, v in result.response_headers][:100],
        result.response_body.replace("\x00", "\ufffd"), result.error[:500],
        verdict.configuration_error, verdict.outcome == Outcome.SUCCEEDED, result.job.probe,
    )


_JSON_COLUMNS = {ATTEMPT_COLUMNS.index(name) for name in ("request_headers", "response_headers")}


def _insert_attempts(results: list[Result]) -> None:
    """Insert attempt rows with one COPY (the ORM's per-object cost adds up here)."""
    rows = [
        [json.dumps(v, ensure_ascii=False) if i in _JSON_COLUMNS else v
         for i, v in enumerate(_attempt_values(result))]
        for result in results
    ]
    with connection.cursor() as cursor, cursor.cursor.copy(
        f"COPY {Attempt._meta.db_table} ({', '.join(ATTEMPT_COLUMNS)}) FROM STDIN"
    ) as copy:
        for row in rows:
            copy.write_row(row)


def _describe_failure(result: Result) -> str:
    if result.error:
        return result.error[:500]
    return f"HTTP {result.status}"


@dataclass(slots=True)
class _State:
    """A delivery's row as the recorder changes it (cheaper than a model instance)."""

    id: uuid.UUID
    endpoint_id: int
    test: bool
    state: str = DeliveryState.SENDING
    attempt_count: int = 0
    last_status_code: int | None = None
    last_error: str = ""
    claim_token: uuid.UUID | None = None
    lease_expires_at: datetime.datetime | None = None
    finished_at: datetime.datetime | None = None
    next_attempt_at: datetime.datetime | None = None
    off_schedule_attempts: int = 0
    order_key: str | None = None
    created_at: datetime.datetime | None = None


def _set(moment: datetime.datetime | None) -> datetime.datetime:
    """Return a time that the delivery's state says is set (a pending delivery's next
    attempt, a succeeded one's finish), which mypy cannot tell."""
    return cast(datetime.datetime, moment)


def _next_state(delivery: _State, result: Result, live: bool) -> None:
    """Apply one result to its delivery row (in memory)."""
    verdict = result.verdict
    delivery.attempt_count = result.job.attempt_number
    delivery.last_status_code = result.status
    delivery.last_error = "" if verdict.outcome == Outcome.SUCCEEDED else _describe_failure(result)
    delivery.claim_token = None
    delivery.lease_expires_at = None
    finished = result.finished_at
    if verdict.outcome == Outcome.SUCCEEDED:
        delivery.state, delivery.finished_at = DeliveryState.SUCCEEDED, finished
        return
    if result.job.probe and verdict.trips_breaker and live:
        # A failed probe: the endpoint is still down, which is not this delivery's fault.
        # It waits behind the circuit, due as it was, its schedule where it was.
        delivery.off_schedule_attempts += 1
        delivery.state = DeliveryState.PENDING
        return
    delay = (
        None
        if (delivery.test or verdict.outcome == Outcome.GONE)
        else next_delay(result.job.schedule_slot or result.job.attempt_number)
    )
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


FIELDS = ["state", "attempt_count", "last_status_code", "last_error", "claim_token",
          "lease_expires_at", "finished_at", "next_attempt_at", "off_schedule_attempts"]


@dataclass
class FollowUp:
    """What must happen after a batch is recorded."""

    # (delivery id, endpoint id, seconds until due) of retries now scheduled.
    retries: list[tuple[str, int, float]] = field(default_factory=list)
    # Endpoints to disable, with the reason: 410 Gone, or failing for too long.
    disable: dict[int, str] = field(default_factory=dict)
    # Endpoints whose circuit opened or closed in this batch ("opened" / "closed").
    circuits: dict[int, str] = field(default_factory=dict)
    # [delivery id, endpoint id] of deliveries now first of their key (the one before
    # them finished): to claim at once.
    ready: list[list] = field(default_factory=list)


def record(results: list[Result]) -> FollowUp:
    """Write a batch of results; return the retries now scheduled and endpoints to disable."""
    if not results:
        return FollowUp()
    by_id = {uuid.UUID(r.job.delivery_id): r for r in results}
    with transaction.atomic():
        rows = (Delivery.objects.select_for_update().filter(id__in=by_id).order_by()
                .values_list("id", "state", "claim_token", "endpoint_id", "test",
                             "next_attempt_at", "off_schedule_attempts", "order_key",
                             "created_at"))
        existing: set[uuid.UUID] = set()
        mine: list[_State] = []
        for pk, state, token, endpoint_id, test, due, off_schedule, order_key, created in rows:
            existing.add(pk)
            # A result whose claim was lost (lease expired, row re-claimed) is not applied.
            if state == DeliveryState.SENDING and str(token) == by_id[pk].job.claim_token:
                mine.append(_State(pk, endpoint_id, test, next_attempt_at=due,
                                   off_schedule_attempts=off_schedule, order_key=order_key,
                                   created_at=created))
        live = set(Endpoint.objects.filter(pk__in={d.endpoint_id for d in mine}, enabled=True,
                                           deleted_at=None).values_list("pk", flat=True))
        for delivery in mine:
            _next_state(delivery, by_id[delivery.id], delivery.endpoint_id in live)
        # Every request made is logged, but a delivery deleted meanwhile has no log.
        _insert_attempts([r for pk, r in by_id.items() if pk in existing])
        _write_states(mine)
        counted = [by_id[d.id] for d in mine if not d.test]
        _update_health(counted)
        circuits, drained = _update_breakers(counted)
        _update_rollup(counted, [d for d in mine if not d.test])
        gone = {by_id[d.id].job.endpoint_id for d in mine
                if by_id[d.id].verdict.outcome == Outcome.GONE}
        disable = _broken(gone, counted)
    _count(results, mine, by_id)
    _log(mine, by_id)
    now = timezone.now()
    retries = [(str(d.id), d.endpoint_id, max(0.0, (_set(d.next_attempt_at) - now).total_seconds()))
               for d in mine if d.state == DeliveryState.PENDING]
    retries += [(pk, endpoint_id, 0.0) for pk, endpoint_id in drained]
    finished = {(d.endpoint_id, d.order_key) for d in mine
                if d.order_key and d.state != DeliveryState.PENDING}
    return FollowUp(retries=retries, disable=disable, circuits=circuits,
                    ready=next_in_order(finished))


_NEXT_SQL = """
SELECT n.id, k.endpoint_id FROM (VALUES {values}) AS k (endpoint_id, order_key)
CROSS JOIN LATERAL (
    SELECT d.id, d.state FROM callbacks_delivery d
    WHERE d.endpoint_id = k.endpoint_id AND d.order_key = k.order_key
      AND d.state IN ('pending', 'sending') AND d.sequence IS NOT NULL
    ORDER BY d.sequence LIMIT 1) AS n
WHERE n.state = 'pending'
"""


def next_in_order(keys: Iterable[tuple[int, str | None]]) -> list[list]:
    """For each (endpoint, order key), the delivery now first of that key if it is pending,
    as [delivery id, endpoint id] pairs (one indexed look-up per key)."""
    keys = sorted((pk, key) for pk, key in keys if key)
    if not keys:
        return []
    sql = _NEXT_SQL.format(values=", ".join(["(%s::integer, %s)"] * len(keys)))
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for pair in keys for value in pair])
        return [[str(pk), endpoint_id] for pk, endpoint_id in cursor.fetchall()]


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
                (_set(delivery.finished_at) - job.event_created_at).total_seconds()
            )


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
                   "duration_ms": result.duration_ms, "test": job.test},
        )


def _write_states(deliveries: list[_State]) -> None:
    """Write new states: successes as a few grouped UPDATEs, the rest row by row in bulk."""
    groups: dict[tuple[int | None, int], list[_State]] = defaultdict(list)
    others = []
    for delivery in deliveries:
        if delivery.state == DeliveryState.SUCCEEDED:
            groups[(delivery.last_status_code, delivery.attempt_count)].append(delivery)
        else:
            others.append(delivery)
    for (status, attempts), group in groups.items():
        Delivery.objects.filter(id__in=[d.id for d in group]).update(
            state=DeliveryState.SUCCEEDED, attempt_count=attempts, last_status_code=status,
            last_error="", claim_token=None, lease_expires_at=None,
            finished_at=max(_set(d.finished_at) for d in group))
    if others:
        rows = [Delivery(id=d.id, **{name: getattr(d, name) for name in FIELDS}) for d in others]
        Delivery.objects.bulk_update(rows, FIELDS)


def _update_health(results: Iterable[Result]) -> None:
    """Update each endpoint's health once for this batch."""
    per_endpoint: dict[int, list[Result]] = defaultdict(list)
    for result in results:
        per_endpoint[result.job.endpoint_id].append(result)
    # Sorted: two recorders locking the same endpoints in one order cannot deadlock.
    for endpoint_id, items in sorted(per_endpoint.items()):
        items.sort(key=lambda r: r.finished_at)
        ok = [r for r in items if r.verdict.outcome == Outcome.SUCCEEDED]
        last = items[-1].finished_at
        if ok:
            after = [
                r
                for r in items
                if r.finished_at > ok[-1].finished_at and r.verdict.outcome != Outcome.SUCCEEDED
            ]
            Endpoint.objects.filter(pk=endpoint_id).update(
                last_success_at=ok[-1].finished_at,
                last_attempt_at=last,
                consecutive_failures=len(after),
                failing_since=after[0].finished_at if after else None,
                last_error=_describe_failure(after[-1]) if after else "",
            )
        else:
            Endpoint.objects.filter(pk=endpoint_id).update(
                last_attempt_at=last,
                consecutive_failures=F("consecutive_failures") + len(items),
                failing_since=Coalesce(F("failing_since"), items[0].finished_at),
                last_error=_describe_failure(items[-1]),
            )


def _update_breakers(
    results: list[Result],
) -> tuple[dict[int, str], list[tuple[str, int]]]:
    """Count each endpoint's consecutive failures, open and close circuits; return the
    circuits that changed and the waiting deliveries now due (those of closed ones)."""
    per_endpoint: dict[int, list[Result]] = defaultdict(list)
    for result in results:
        per_endpoint[result.job.endpoint_id].append(result)
    if not per_endpoint:
        return {}, []
    threshold = settings.CALLBACK_BREAKER_FAILURES
    now = timezone.now()
    changed: dict[int, str] = {}
    opened: dict[int, int] = {}  # endpoint -> the consecutive failures that opened it
    rows = (Endpoint.objects.select_for_update().filter(pk__in=per_endpoint).order_by("pk")
            .values_list("pk", "breaker_failures", "circuit_opened_at", "probe_interval",
                         "paused_until"))
    for pk, before, opened_at, interval, paused_until in rows:
        failures = before
        items = sorted(per_endpoint[pk], key=lambda r: r.finished_at)
        answered = probe_failed = False
        pause = paused_until
        for result in items:
            if result.verdict.trips_breaker:
                failures += 1
                probe_failed = probe_failed or result.job.probe
            elif result.status is not None:
                failures, answered = 0, True
            if result.verdict.retry_after:  # 429/503 with Retry-After: the endpoint waits
                until = result.finished_at + datetime.timedelta(seconds=result.verdict.retry_after)
                pause = until if pause is None or until > pause else pause
        update: dict[str, object] = {"breaker_failures": failures}
        if pause != paused_until:
            update["paused_until"] = pause
        if opened_at is not None and answered:
            update.update(circuit_opened_at=None, next_probe_at=None, probe_interval=0,
                          probe_delivery_id=None, breaker_failures=0)
            changed[pk] = "closed"
        elif opened_at is not None and probe_failed:
            longer = min(max(interval * 2, settings.CALLBACK_BREAKER_PROBE_MIN),
                         settings.CALLBACK_BREAKER_PROBE_MAX)
            update.update(probe_interval=longer, probe_delivery_id=None,
                          next_probe_at=now + datetime.timedelta(seconds=longer))
        elif opened_at is None and threshold and failures >= threshold:
            first = settings.CALLBACK_BREAKER_PROBE_MIN
            update.update(circuit_opened_at=now, probe_interval=first, probe_delivery_id=None,
                          next_probe_at=now + datetime.timedelta(seconds=first))
            changed[pk] = "opened"
            opened[pk] = failures
        if update != {"breaker_failures": before}:  # most batches change nothing here
            Endpoint.objects.filter(pk=pk).update(**update)
    _audit_openings(opened)
    drained = [pair for pk, state in changed.items() if state == "closed"
               for pair in release_waiting(pk, now)]
    return changed, drained


def _audit_openings(opened: dict[int, int]) -> None:
    """Write each circuit that opened to its domain's audit log, in the recorder's
    transaction: the one durable record of an opening (``circuit_opened_at`` holds only
    the current one), which the endpoint's health counts."""
    if not opened:
        return
    for endpoint in Endpoint.objects.filter(pk__in=opened).select_related("domain"):
        AuditEntry.objects.record(actor=None, action=CIRCUIT_OPENED, obj=endpoint,
                                  object_id=endpoint.endpoint_id,
                                  after={"consecutive_failures": opened[endpoint.pk]})


def release_waiting(endpoint_id: int, now: datetime.datetime) -> list[tuple[str, int]]:
    """A circuit closed: every waiting delivery of the endpoint is due now. Return the
    first ``CALLBACK_SWEEP_LIMIT`` of them, oldest first, as (id, endpoint) pairs to
    enqueue; the sweeper sends the rest."""
    waiting = Delivery.objects.filter(endpoint_id=endpoint_id, state=DeliveryState.PENDING)
    waiting.filter(next_attempt_at__gt=now).update(next_attempt_at=now)
    due = waiting.order_by("next_attempt_at").values_list("id", flat=True)
    return [(str(pk), endpoint_id) for pk in due[: settings.CALLBACK_SWEEP_LIMIT]]


def _hour(moment: datetime.datetime) -> datetime.datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _bucket(milliseconds: int) -> int:
    return bisect.bisect_left(LATENCY_BOUNDS_MS, milliseconds)


def _update_rollup(results: Iterable[Result], deliveries: Iterable[_State]) -> None:
    """Add this batch to the per-endpoint hourly counts: finished attempts by the hour they
    finished (and their latency histogram), deliveries that ended by the hour they were
    created in."""
    # (endpoint, hour) -> [attempts ok, attempts failed, delivered, gave up]
    counts: dict[tuple[int, datetime.datetime], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    latency: Counter[tuple[int, datetime.datetime, int]] = Counter()
    for result in results:
        hour = _hour(result.finished_at)
        counts[(result.job.endpoint_id, hour)][
            0 if result.verdict.outcome == Outcome.SUCCEEDED else 1
        ] += 1
        latency[(result.job.endpoint_id, hour, _bucket(result.duration_ms))] += 1
    for delivery in deliveries:
        if delivery.state in (DeliveryState.SUCCEEDED, DeliveryState.FAILED):
            hour = _hour(_set(delivery.created_at))
            counts[(delivery.endpoint_id, hour)][
                2 if delivery.state == DeliveryState.SUCCEEDED else 3
            ] += 1
    if not counts:
        return
    adapt = connection.ops.adapt_datetimefield_value
    table = "callbacks_endpointhourlystat"
    rows = sorted(counts.items())  # sorted: two recorders take the rows' locks in one order
    values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(rows))
    params = [value for (endpoint_id, hour), numbers in rows
              for value in (endpoint_id, adapt(hour), *numbers)]
    sums = ", ".join(f"{column} = {table}.{column} + excluded.{column}"
                     for column in ("succeeded", "failed", "delivered", "gave_up"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (endpoint_id, hour, succeeded, failed, delivered, gave_up) "  # noqa: S608
            f"VALUES {values} ON CONFLICT (endpoint_id, hour) DO UPDATE SET {sums}",
            params,
        )
        if latency:
            buckets = sorted(latency.items())
            placeholders = ", ".join(["(%s, %s, %s, %s)"] * len(buckets))
            sql = (f"INSERT INTO callbacks_endpointlatencystat (endpoint_id, hour, bucket, count) VALUES {placeholders} "  # noqa: E501, S608 (fixed names)
                   "ON CONFLICT (endpoint_id, hour, bucket) DO UPDATE "
                   "SET count = callbacks_endpointlatencystat.count + excluded.count")
            cursor.execute(
                sql,
                [value for (endpoint_id, hour, bucket), count in buckets
                 for value in (endpoint_id, adapt(hour), bucket, count)],
            )


def _broken(gone: set[int], results: list[Result]) -> dict[int, str]:
    """Endpoints to disable: those that answered 410, or whose every attempt failed too long."""
    cutoff = timezone.now() - datetime.timedelta(days=settings.CALLBACK_DISABLE_AFTER_DAYS)
    failing = {r.job.endpoint_id for r in results if r.verdict.outcome != Outcome.SUCCEEDED}
    days = settings.CALLBACK_DISABLE_AFTER_DAYS
    broken: dict[int, str] = {}
    candidates = Endpoint.objects.filter(pk__in=gone | failing, enabled=True, deleted_at=None)
    for pk, failing_since in candidates.values_list("pk", "failing_since"):
        if pk in gone:
            broken[pk] = "The endpoint answered 410 Gone."
        elif failing_since and failing_since < cutoff:
            broken[pk] = f"Every attempt failed for {days:g} days."
    return broken
