"""Deliveries for the pages and the API: the log and its hourly chart, one delivery, a
replay's outcomes, what is pending."""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.db.models.functions import TruncHour

from callbacks.endpoint_health import day_until
from callbacks.models import (
    Delivery,
    DeliveryState,
    Endpoint,
    ReplayJob,
)
from domains.models import Domain


@dataclass
class HourStat:
    """One hour of a filtered delivery log's chart: deliveries published that hour by how
    they ended, or that they are still being sent or retried."""

    hour: datetime.datetime
    delivered: int = 0
    gave_up: int = 0
    cancelled: int = 0
    retrying: int = 0

    @property
    def total(self) -> int:
        return self.delivered + self.gave_up + self.cancelled + self.retrying

def log_summary(rows: QuerySet[Delivery], until: datetime.datetime | None = None
                ) -> list[HourStat]:
    """The 24 hours up to ``until`` (default: now) of a filtered delivery log, per hour of
    publication: succeeded, failed, cancelled, and still being sent or retried."""
    hours = day_until(until)
    table = {hour: HourStat(hour) for hour in hours}
    counts = (rows.filter(created_at__gte=hours[0],
                          created_at__lt=hours[-1] + datetime.timedelta(hours=1))
              .annotate(created_hour=TruncHour("created_at")).order_by()
              .values_list("created_hour", "state").annotate(n=Count("id")))
    for hour, state, count in counts:
        stat = table.get(hour)
        if stat is None:
            continue
        if state == DeliveryState.SUCCEEDED:
            stat.delivered += count
        elif state == DeliveryState.FAILED:
            stat.gave_up += count
        elif state == DeliveryState.CANCELLED:
            stat.cancelled += count
        elif state in (DeliveryState.PENDING, DeliveryState.SENDING):
            stat.retrying += count
    return [table[hour] for hour in hours]

def replay_outcomes(job: ReplayJob) -> dict[str, int]:
    """How the deliveries a replay queued have ended so far, by state (every state named,
    0 when none): the endpoint's replay deliveries made from the job's start until the
    next replay of the endpoint began."""
    rows = Delivery.objects.filter(endpoint_id=job.endpoint_id, replay=True,
                                   created_at__gte=job.created_at)
    later = (ReplayJob.objects.filter(endpoint_id=job.endpoint_id, created_at__gt=job.created_at)
             .order_by("created_at").values_list("created_at", flat=True).first())
    if later is not None:
        rows = rows.filter(created_at__lt=later)
    counts = dict(rows.order_by().values_list("state").annotate(n=Count("id")))
    return {state: counts.get(state, 0) for state in DeliveryState.values}

def same_event_deliveries(delivery: Delivery) -> list[Delivery]:
    """The other deliveries of ``delivery``'s event to its endpoint (the first send, its
    resends and replays), oldest first."""
    same = Delivery.objects.filter(event_id=delivery.event_id, endpoint_id=delivery.endpoint_id)
    return list(same.exclude(pk=delivery.pk).order_by("created_at"))

def delivery_summary(delivery: Delivery) -> dict:
    """What a page polling a (test) delivery shows."""
    attempt = delivery.attempts.order_by("-number").first()
    return {
        "id": str(delivery.id),
        "state": delivery.state,
        "event_type": delivery.event_type,
        "status": attempt.response_status if attempt else None,
        "duration_ms": attempt.duration_ms if attempt else None,
        "error": attempt.error if attempt else "",
        "response_excerpt": attempt.response_body[:500] if attempt else "",
    }

def deliveries_for(
    domain: Domain,
    *,
    endpoint: Endpoint | None = None,
    state: str = "",
    event_type: str = "",
    since: datetime.datetime | None = None,
    until: datetime.datetime | None = None,
) -> QuerySet[Delivery]:
    """A domain's delivery log, newest first, filtered (indexes: domain or endpoint by time)."""
    rows = Delivery.objects.filter(domain=domain).select_related("endpoint")
    if endpoint is not None:
        rows = rows.filter(endpoint=endpoint)
    if state:
        rows = rows.filter(state=state)
    if event_type:
        rows = rows.filter(event_type=event_type)
    if since:
        rows = rows.filter(created_at__gte=since)
    if until:
        rows = rows.filter(created_at__lt=until)
    return rows.order_by("-created_at")

def delivery_detail(domain: Domain, delivery_id: str) -> Delivery | None:
    """One delivery of ``domain`` with its event and attempts, or None."""
    try:
        return (
            Delivery.objects.select_related("event", "endpoint")
            .prefetch_related("attempts")
            .get(pk=delivery_id, domain=domain)
        )
    except (Delivery.DoesNotExist, ValueError, ValidationError):
        return None

def pretty_body(delivery: Delivery) -> str:
    return json.dumps(json.loads(bytes(delivery.event.body)), indent=2, ensure_ascii=False)

def pending_deliveries(endpoints: Endpoint | QuerySet[Endpoint]) -> int:
    """How many deliveries of an endpoint (or of several) wait for an attempt: what a
    disable or a delete would cancel."""
    scope = (
        {"endpoint": endpoints} if isinstance(endpoints, Endpoint) else {"endpoint__in": endpoints}
    )
    return Delivery.objects.filter(state=DeliveryState.PENDING, **scope).count()
