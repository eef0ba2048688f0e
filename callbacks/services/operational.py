"""Operational events: signed callbacks about the domain's own endpoints
(docs/callbacks.md, "Operational events"), published like any event to the endpoints
subscribed to them, never to the endpoint they are about.

- ``endpoint.failing`` and ``endpoint.recovered``: the recorder keeps each endpoint's
  ``health_state`` under its row lock (callbacks.delivery.breaker); ``announce`` publishes
  what changed since ``health_told``, once per episode, from the task the recorder queues
  and from every sweep (so a lost message delays an event and loses none; an episode
  that ended before it was told is told whole, both events in order);
- ``endpoint.disabled``: published by ``endpoint_disable`` in its own transaction;
- ``delivery.exhausted``: the recorder holds failed-for-good deliveries on the endpoint's
  row; the sweep publishes one digest per endpoint once ``OPERATIONAL_DIGEST_SECONDS``
  have passed since the first;
- ``endpoint.certificate_expiring``: the sweep warns once, 14 days ahead, that a client
  certificate expires (with an e-mail to the domain's admins).
"""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from callbacks.models import Endpoint
from callbacks.publishing import publish
from domains.formats import camio_date
from domains.models import DomainAdministrator

TRIGGERS = {"failures": "consecutive_failures", "circuit": "circuit_opened"}
CERTIFICATE_WARNING_DAYS = 14
DISABLED_REASONS = ("gone", "exhausted", "person")


def endpoint_ref(endpoint: Endpoint) -> dict[str, str]:
    """How an operational event names its endpoint (a chat endpoint's URL stays masked: its
    ``url`` column holds only the scheme and host)."""
    return {"endpoint_id": endpoint.endpoint_id, "url": endpoint.url,
            "description": endpoint.description, "domain": endpoint.domain.name}


def _publish(endpoint: Endpoint, event_type: str, obj: dict[str, Any]) -> None:
    publish(domain=endpoint.domain, type=event_type, object=obj,
            order_key=f"endpoint:{endpoint.endpoint_id}", about=endpoint.pk)


def announce(endpoint_ids: list[int] | None = None,
             now: datetime.datetime | None = None) -> int:
    """Publish the operational events that are due (of ``endpoint_ids``, or of every
    endpoint): a failing episode begun or ended, a digest whose time came. Returns how many
    events were published."""
    now = now or timezone.now()
    due = settings.OPERATIONAL_DIGEST_SECONDS
    soon = now + datetime.timedelta(days=CERTIFICATE_WARNING_DAYS)
    wanted = (~Q(health_state=F("health_told"))
              | Q(exhausted_since__lte=now - datetime.timedelta(seconds=due))
              | Q(client_certificate_expires_at__lte=soon, client_certificate_warned_at=None,
                  deleted_at=None))
    published = 0
    with transaction.atomic():
        endpoints = Endpoint.objects.filter(wanted)
        if endpoint_ids is not None:
            endpoints = endpoints.filter(pk__in=endpoint_ids)
        # Locked like the recorder locks them (its rows, in id order); one busy now is
        # announced by the next sweep.
        for endpoint in (endpoints.select_related("domain").order_by("pk")
                         .select_for_update(of=("self",), skip_locked=True)):
            published += (_episode(endpoint) + _digest(endpoint, now, due)
                          + _certificate(endpoint, now, soon))
    return published


def _episode(endpoint: Endpoint) -> int:
    """Tell an episode's beginning once and its end once, even when it ended before it was
    told (then both, in order)."""
    state, told = endpoint.health_state, endpoint.health_told
    ended = state.startswith("~")
    began = state.removeprefix("~")
    published = 0
    if began and not told:
        # On time, the failures in a row now; told late, the threshold it began at.
        failures = (settings.CALLBACK_FAILING_AFTER if ended and began == "failures"
                    else endpoint.consecutive_failures)
        _publish(endpoint, "endpoint.failing", {
            "endpoint": endpoint_ref(endpoint), "trigger": TRIGGERS[began],
            "consecutive_failures": failures,
            "failing_since": camio_date(endpoint.failing_since or timezone.now()),
            "last_error": endpoint.last_error, "circuit": endpoint.circuit_state})
        published += 1
    if ended:
        _publish(endpoint, "endpoint.recovered", {
            "endpoint": endpoint_ref(endpoint),
            "recovered_at": camio_date(endpoint.last_success_at or timezone.now())})
        published += 1
    # A circuit that opened after the failures were told is the same episode.
    state = "" if ended else state
    Endpoint.objects.filter(pk=endpoint.pk).update(health_state=state, health_told=state)
    return published


def _digest(endpoint: Endpoint, now: datetime.datetime, due: float) -> int:
    since = endpoint.exhausted_since
    if since is None or since > now - datetime.timedelta(seconds=due):
        return 0
    _publish(endpoint, "delivery.exhausted", {
        "endpoint": endpoint_ref(endpoint), "count": endpoint.exhausted_count,
        "delivery_ids": list(endpoint.exhausted_ids or [])[:20], "since": camio_date(since),
        "until": camio_date(now)})
    Endpoint.objects.filter(pk=endpoint.pk).update(exhausted_count=0, exhausted_ids=[],
                                                   exhausted_since=None)
    return 1


def _certificate(endpoint: Endpoint, now: datetime.datetime, soon: datetime.datetime) -> int:
    """Warn once, CERTIFICATE_WARNING_DAYS ahead, that the client certificate expires: an
    operational event and an e-mail to the domain's admins."""
    expires = endpoint.client_certificate_expires_at
    if (expires is None or expires > soon or endpoint.client_certificate_warned_at is not None
            or endpoint.deleted_at is not None):
        return 0
    _publish(endpoint, "endpoint.certificate_expiring", {
        "endpoint": endpoint_ref(endpoint),
        "fingerprint": endpoint.client_certificate_fingerprint,
        "expires_at": camio_date(expires)})
    Endpoint.objects.filter(pk=endpoint.pk).update(client_certificate_warned_at=now)
    emails = list(DomainAdministrator.objects.filter(domain=endpoint.domain)
                  .values_list("user__email", flat=True))
    if emails:
        subject = f"A client certificate of {endpoint.domain.name} expires soon"
        body = (f"The client certificate (mTLS) of the callback endpoint {endpoint.method} "
                f"{endpoint.url} of {endpoint.domain.name} expires at {expires:%Y-%m-%d %H:%M} "
                f"UTC (fingerprint {endpoint.client_certificate_fingerprint}). Upload a new "
                "one before then, or receivers that require it will refuse the callbacks:\n"
                f"{settings.PORTAL_URL}/domains?domain={endpoint.domain.name}\n")
        transaction.on_commit(lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL,
                                                emails, fail_silently=True))
    return 1


def announce_disabled(endpoint: Endpoint, *, reason: str, detail: str, by: str | None,
                      cancelled: int) -> None:
    """Publish ``endpoint.disabled`` (in the caller's transaction, which disabled it)."""
    _publish(endpoint, "endpoint.disabled", {
        "endpoint": endpoint_ref(endpoint), "reason": reason, "detail": detail,
        "disabled_by": by, "cancelled_deliveries": cancelled,
        "disabled_at": camio_date(endpoint.disabled_at or timezone.now())})
