"""What the health check, /metrics and the admin read of the delivery machinery:
heartbeats, the backlog, workers, the broker."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from celery import current_app
from django.db.models import Count, Min, Q
from django.utils import timezone

from callbacks import liveness
from callbacks.models import (
    Delivery,
    DeliveryState,
    Endpoint,
    Heartbeat,
)


def heartbeat_status(interval: float, name: str = "sweeper") -> str:
    """Return "ok", "starting" (never seen) or "stale (N s ago)" for a periodic task."""
    beat = Heartbeat.objects.filter(name=name).first()
    if beat is None:
        return "starting"
    age = (timezone.now() - beat.at).total_seconds()
    return "ok" if age <= max(3 * interval, 30) else f"stale ({age:.0f} s ago)"

@dataclass
class Backlog:
    """What waits to be sent: the admin's backlog page and /metrics show it."""

    pending: int  # waiting, due or not (retries scheduled later included)
    due: int  # waiting and due now
    sending: int  # claimed by a worker
    oldest_due: datetime.datetime | None  # when the longest-waiting due one fell due
    heartbeat: datetime.datetime | None  # the sweeper's last run
    circuits_open: int = 0  # live endpoints whose circuit breaker is open
    workers: dict[str, int] = field(default_factory=dict)  # live worker processes per role
    # The busiest domains: (name, being sent, due now), most due first.
    domains: list[tuple[str, int, int]] = field(default_factory=list)

def backlog(now: datetime.datetime) -> Backlog:
    """Count the deliveries waiting and in flight at ``now`` (partial indexes)."""
    due = Delivery.objects.filter(state=DeliveryState.PENDING, next_attempt_at__lte=now)
    beat = Heartbeat.objects.filter(name="sweeper").first()
    return Backlog(
        pending=Delivery.objects.filter(state=DeliveryState.PENDING).count(),
        due=due.count(),
        sending=Delivery.objects.filter(state=DeliveryState.SENDING).count(),
        oldest_due=due.aggregate(oldest=Min("next_attempt_at"))["oldest"],
        heartbeat=beat.at if beat else None,
        circuits_open=Endpoint.objects.live().filter(circuit_opened_at__isnull=False).count(),
        workers=liveness.live(now),
        domains=domain_backlog(now),
    )

def domain_backlog(now: datetime.datetime, limit: int = 20) -> list[tuple[str, int, int]]:
    """Per domain with deliveries waiting or in flight: (name, being sent, due now), the
    ``limit`` with most due first (the fair shares between domains at work)."""
    rows = (Delivery.objects.filter(state__in=(DeliveryState.PENDING, DeliveryState.SENDING))
            .values("domain__name")
            .annotate(sending=Count("id", filter=Q(state=DeliveryState.SENDING)),
                      due=Count("id", filter=Q(state=DeliveryState.PENDING,
                                               next_attempt_at__lte=now)))
            .order_by("-due", "-sending", "domain__name")[:limit])
    return [(row["domain__name"], row["sending"], row["due"]) for row in rows]

def worker_status() -> dict[str, str]:
    """Per worker role: "ok (N alive)", or "none alive" when no worker of it heartbeated
    within the window (callbacks.liveness)."""
    return {role: f"ok ({count} alive)" if count else "none alive"
            for role, count in liveness.live().items()}

def broker_status() -> str:
    """Return "ok" when the Celery broker accepts a connection, else the error's name."""
    try:
        with current_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=0, timeout=2)
    except Exception as exc:  # the health check reports; it never raises
        return f"error: {exc.__class__.__name__}"
    return "ok"
