"""Resend, replay, test events and retention."""

from __future__ import annotations

import datetime
import logging
import time
import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from callbacks import catalog
from callbacks.delivery.dispatcher import send_now
from callbacks.delivery.outbox import enqueue, wake
from callbacks.delivery.policy import Result
from callbacks.filters import matches
from callbacks.models import Delivery, DeliveryState, Endpoint, Event, Ordering, ReplayJob
from callbacks.publishing import number, publish
from domains.models import TEST_ID_PREFIX, AuditEntry, Domain, User, relock

log = logging.getLogger(__name__)
IN_PROGRESS = (DeliveryState.PENDING, DeliveryState.SENDING)
REPLAY_TASK = "callbacks.replay"


def _require_live(endpoint: Endpoint) -> None:
    if endpoint.deleted_at is not None:
        raise ValidationError({"endpoint": ["This endpoint was deleted."]})
    if not endpoint.enabled:
        raise ValidationError({"endpoint": ["Enable this endpoint first."]})


def _new_delivery(
    event: Event, endpoint: Endpoint, *, replay: bool = False, test: bool = False
) -> Delivery:
    now = timezone.now()
    ordered = endpoint.ordering == Ordering.PER_KEY and event.order_key and not test
    return Delivery(
        id=uuid.uuid4(),
        event_id=event.pk,
        endpoint=endpoint,
        domain_id=endpoint.domain_id,
        event_type=event.type,
        replay=replay,
        test=test,
        next_attempt_at=now,
        created_at=now,
        order_key=event.order_key if ordered else None,
    )


@transaction.atomic
def delivery_resend(*, delivery: Delivery, actor: User | None) -> Delivery:
    """Send a delivery's event to its endpoint again (same event id), as a new delivery."""
    endpoint = delivery.endpoint
    _require_live(endpoint)
    if delivery.state in IN_PROGRESS:
        raise ValidationError({"delivery": ["This delivery is still being attempted."]})
    fresh = _new_delivery(delivery.event, endpoint, test=delivery.test)
    number([fresh] if fresh.order_key else [])  # behind the key's pending ones
    fresh.save(force_insert=True)
    wake([fresh.endpoint_id])
    AuditEntry.objects.record(
        actor=actor, action="delivery.resent", obj=endpoint, object_id=str(delivery.id),
        after={"new_delivery": str(fresh.id)},
    )
    return fresh


@transaction.atomic
def delivery_cancel(*, delivery: Delivery, actor: User | None) -> Delivery:
    """Stop a pending delivery: no more attempts. It keeps its log and can be resent or
    replayed. One being sent right now cannot be called back: it is refused."""
    delivery = relock(Delivery.objects.all(), delivery.pk)
    if delivery.state == DeliveryState.SENDING:
        raise ValidationError({"delivery": ["This delivery is being sent right now; try again "
                                            "in a moment."]})
    if delivery.state != DeliveryState.PENDING:
        raise ValidationError({"delivery": [f"Only a pending delivery can be cancelled; this "
                                            f"one is {delivery.state}."]})
    who = f" by {actor.email}" if actor is not None and actor.pk else ""
    delivery.state, delivery.finished_at = DeliveryState.CANCELLED, timezone.now()
    delivery.last_error = f"Cancelled{who}."
    delivery.save(update_fields=["state", "finished_at", "last_error"])
    if delivery.order_key:  # the next of its key may go now
        wake([delivery.endpoint_id])
    AuditEntry.objects.record(
        actor=actor, action="delivery.cancelled", domain=delivery.domain, obj=delivery.endpoint,
        object_id=str(delivery.id),
    )
    return delivery


# --- Replay ------------------------------------------------------------------


def replay_events(
    *, endpoint: Endpoint, start: datetime.datetime, end: datetime.datetime, include_all: bool
) -> QuerySet[Event]:
    """Return the events a replay would send, oldest first (docs/callbacks.md, "Test
    events, resend, replay")."""
    if start >= end:
        raise ValidationError({"end": ["The end of the range must be after its start."]})
    ours = Delivery.objects.filter(event=OuterRef("pk"), endpoint=endpoint)
    events = Event.objects.filter(
        domain_id=endpoint.domain_id,
        created_at__gte=start,
        created_at__lt=end,
        type__in=endpoint.event_types,
        test=False,
    )
    if endpoint.filter_path:  # the endpoint's current payload filter, as publish judges it
        events = events.filter(matches(endpoint.filter_path, endpoint.filter_vars))
    events = events.exclude(Exists(ours.filter(state__in=IN_PROGRESS)))
    if not include_all:
        events = events.exclude(Exists(ours.filter(state=DeliveryState.SUCCEEDED)))
    return events.order_by("created_at")


def replay_count(
    *,
    endpoint: Endpoint,
    start: datetime.datetime,
    end: datetime.datetime,
    include_all: bool = False,
) -> int:
    """Dry run: how many events a replay would send."""
    return replay_events(endpoint=endpoint, start=start, end=end, include_all=include_all).count()


@transaction.atomic
def replay_start(
    *,
    endpoint: Endpoint,
    start: datetime.datetime,
    end: datetime.datetime,
    include_all: bool = False,
    actor: User | None,
) -> ReplayJob:
    """Queue a background replay of an endpoint's events in [start, end)."""
    _require_live(endpoint)
    total = replay_count(endpoint=endpoint, start=start, end=end, include_all=include_all)
    job = ReplayJob.objects.create(
        endpoint=endpoint,
        start=start,
        end=end,
        include_all=include_all,
        total=total,
        created_by=actor if actor and actor.pk else None,
    )
    AuditEntry.objects.record(
        actor=actor,
        action="endpoint.replay_started",
        obj=endpoint,
        object_id=endpoint.endpoint_id,
        after={
            "job": job.job_id,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "all": include_all,
            "total": total,
        },
    )
    transaction.on_commit(lambda: enqueue(REPLAY_TASK, [job.job_id]))
    return job


def replay_run(*, job_id: str, chunk: int = 200) -> ReplayJob:
    """Create the replay's deliveries in throttled chunks, recording progress."""
    claimed = ReplayJob.objects.filter(job_id=job_id, state=ReplayJob.State.QUEUED).update(
        state=ReplayJob.State.RUNNING
    )
    job = ReplayJob.objects.select_related("endpoint").get(job_id=job_id)
    if not claimed:
        return job  # already running or finished elsewhere
    try:
        done = _replay_chunks(job, chunk)
    except Exception as exc:
        ReplayJob.objects.filter(pk=job.pk).update(
            state=ReplayJob.State.FAILED, error=str(exc)[:500], finished_at=timezone.now()
        )
        raise
    ReplayJob.objects.filter(pk=job.pk).update(
        state=ReplayJob.State.DONE,
        done=done,
        total=max(done, job.total),
        finished_at=timezone.now(),
    )
    job.refresh_from_db()
    return job


def _replay_chunks(job: ReplayJob, chunk: int) -> int:
    endpoint, done, last_seen = job.endpoint, 0, None
    pause = chunk / max(settings.CALLBACK_REPLAY_RATE, 1)
    while True:
        endpoint.refresh_from_db(fields=["enabled", "deleted_at", "event_types", "ordering",
                                         "filter_path", "filter_vars"])
        if not endpoint.enabled or endpoint.deleted_at is not None:
            raise RuntimeError("The endpoint was disabled or deleted during the replay.")
        events = replay_events(
            endpoint=endpoint, start=job.start, end=job.end, include_all=job.include_all
        )
        if last_seen is not None:
            events = events.filter(created_at__gte=last_seen[0]).exclude(pk__in=last_seen[1])
        batch = list(events.only("id", "type", "created_at", "order_key")[:chunk])
        if not batch:
            return done
        with transaction.atomic():
            fresh = [_new_delivery(event, endpoint, replay=True) for event in batch]
            number([d for d in fresh if d.order_key])  # behind the keys' pending ones
            rows = Delivery.objects.bulk_create(fresh)
            wake([endpoint.pk])
            done += len(rows)
            ReplayJob.objects.filter(pk=job.pk).update(done=done)
        newest = batch[-1].created_at
        last_seen = (newest, [e.pk for e in batch if e.created_at == newest])
        time.sleep(pause)  # throttle: replays must not crowd out fresh deliveries


# --- Test events ---------------------------------------------------------------


def send_test_event(*, endpoint: Endpoint, event_type: str, actor: User | None) -> Delivery:
    """Queue one test delivery of ``event_type``'s example payload to ``endpoint``.

    Flagged ``test``: no retries, not counted in the endpoint's health.
    """
    if endpoint.deleted_at is not None:
        raise ValidationError({"endpoint": ["This endpoint was deleted."]})
    try:
        catalog.get(event_type)
    except ValueError as exc:
        raise ValidationError({"event_type": [str(exc)]}) from None
    with transaction.atomic():
        event = publish(
            domain=endpoint.domain,
            type=event_type,
            object=test_sample(endpoint.domain, event_type),
            endpoint=endpoint,
            test=True,
        )
        AuditEntry.objects.record(
            actor=actor, action="endpoint.test_sent", obj=endpoint, object_id=endpoint.endpoint_id,
            after={"event_type": event_type, "event": str(event.id)},
        )
    return event.deliveries.get()


def test_sample(domain: Domain, event_type: str) -> dict[str, Any]:
    """The catalog's example of ``event_type``, made the domain's own (its name in place of
    the example's domain and e-mail addresses) and marked: every id (``id`` or ``*_id``
    holding a string) gets the ``test_`` prefix no real object's id has, so a receiver
    never takes it for a real camera, zone, Box, user or hook. The vendor's own numbers
    in a PACS event stay numbers, as the vendor sends them."""
    return _as_test(catalog.get(event_type).example, domain.name)  # a new object


def _as_test(value: Any, domain_name: str, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _as_test(v, domain_name, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_test(item, domain_name) for item in value]
    if not isinstance(value, str):
        return value
    if key == "id" or key.endswith("_id"):
        return TEST_ID_PREFIX + value
    if key == "domain":
        return domain_name
    if key == "email" and "@" in value:
        return f"{value.split('@', 1)[0]}@{domain_name}"
    return value


def send_test_event_now(
    *, endpoint: Endpoint, event_type: str, actor: User | None
) -> tuple[Delivery, Result | None]:
    """Create a test delivery and send it in this process (the command line's path)."""
    delivery = send_test_event(endpoint=endpoint, event_type=event_type, actor=actor)
    result = send_now(str(delivery.pk))
    delivery.refresh_from_db()
    return delivery, result
