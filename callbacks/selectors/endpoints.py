"""A domain's endpoints for its page: their rows with health, the recently deleted, the
filter test, operational listeners."""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass

from django.conf import settings
from django.db.models import DateTimeField, ExpressionWrapper, F, QuerySet
from django.utils import timezone

from callbacks import catalog
from callbacks.endpoint_health import Health, endpoint_health
from callbacks.filters import compile_filter, matches
from callbacks.models import (
    Delivery,
    Endpoint,
    Event,
)
from callbacks.selectors.deliveries import pending_deliveries
from domains.formats import counted, mask_url
from domains.models import Domain


@dataclass
class EndpointRow:
    """One line of a domain's endpoint table."""

    endpoint: Endpoint
    masked_url: str
    last_delivery: Delivery | None
    health: Health  # the last 24 hours (callbacks.endpoint_health)
    waiting: int = 0  # deliveries held back by an open circuit (counted only then)

def waiting_behind_circuit(endpoint: Endpoint) -> int:
    """How many deliveries an open circuit holds back (0, uncounted, while it is closed)."""
    return pending_deliveries(endpoint) if endpoint.circuit_opened_at else 0

def endpoint_rows(domain: Domain) -> list[EndpointRow]:
    """The domain's live endpoints with their last delivery and their health over the last
    24 hours (one set of grouped queries for them all, not a scan of deliveries)."""
    endpoints = list(Endpoint.objects.live().filter(domain=domain).order_by("created_at"))
    health = endpoint_health(endpoints)
    rows = []
    for endpoint in endpoints:
        last = endpoint.deliveries.order_by("-created_at").first()
        rows.append(
            EndpointRow(
                endpoint,
                mask_url(endpoint.url),
                last,
                health[endpoint.pk],
                waiting_behind_circuit(endpoint),
            )
        )
    return rows

def recently_deleted_endpoints(domain: Domain) -> QuerySet[Endpoint]:
    """The domain's endpoints deleted inside the undo window, newest first."""
    window = datetime.timedelta(hours=settings.UNDO_WINDOW_HOURS)
    return (
        Endpoint.objects.filter(domain=domain, deleted_at__gt=timezone.now() - window)
        .annotate(restorable_until=ExpressionWrapper(F("deleted_at") + window,
                                                     output_field=DateTimeField()))
        .order_by("-deleted_at")
    )

PREVIEW_EVENTS = 20

@dataclass
class FilterPreview:
    """One recent event and whether a payload filter lets it through."""

    event: Event
    passes: bool

    @property
    def summary(self) -> str:
        """The event's object in a line: its first named thing, else its type."""
        body = json.loads(bytes(self.event.body))
        obj = body.get("data", {}).get("object", {})
        for key in ("camera", "zone", "device", "hook", "incident"):
            if isinstance(obj.get(key), dict) and obj[key].get("name"):
                return f"{key} {obj[key]['name']}"
        if isinstance(obj.get("events"), list):
            return counted(len(obj["events"]), "access event")
        return self.event.type

def filter_preview(domain: Domain, event_types: list[str],
                   payload_filter: dict | None) -> list[FilterPreview]:
    """The domain's last PREVIEW_EVENTS real events of ``event_types``, newest first, each
    judged by ``payload_filter`` (checked) as publish would judge it."""
    path, variables = compile_filter(payload_filter)
    events = (Event.objects.filter(domain=domain, type__in=event_types, test=False)
              .order_by("-created_at", "-id"))
    if path:
        events = events.annotate(passes=matches(path, variables))
    return [FilterPreview(event, getattr(event, "passes", True))
            for event in events[:PREVIEW_EVENTS]]

def operational_listeners(domain: Domain) -> int:
    """How many of the domain's enabled endpoints receive any operational event."""
    return (Endpoint.objects.active().filter(domain=domain)
            .filter(event_types__has_any_keys=sorted(catalog.OPERATIONAL_NAMES)).count())
