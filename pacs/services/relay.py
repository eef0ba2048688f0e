"""Relay pending PACS events in batches: one pacs.events.created per N events of one
integration. A flush is scheduled T ms after a commit that stored pending events
(deduplicated per integration); the sweeper catches what a lost task left behind."""

from __future__ import annotations

import datetime
import json
import logging
import math
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from callbacks.delivery.outbox import enqueue
from callbacks.publishing import publish
from pacs.metrics import RELAYED
from pacs.models import EventState, PacsEvent, PacsIntegration

log = logging.getLogger(__name__)


FLUSH_TASK = "pacs.flush"


def schedule_flush(integration_id: str) -> None:
    """Ask for a flush of this integration T ms from now, unless one is already asked for."""
    delay = settings.PACS_FLUSH_DELAY_MS / 1000
    key = f"pacs-flush:{integration_id}"
    # Whole seconds, rounded up: Redis' cache rounds down (0 would not deduplicate). The
    # flush deletes the key when it starts, so what commits after that asks for another.
    if not cache.add(key, 1, timeout=max(1, math.ceil(delay))):
        return  # a flush is due within T already: it takes these events too
    if not enqueue(FLUSH_TASK, [integration_id], countdown=delay):
        cache.delete(key)  # the broker is down: the sweeper relays them later


# The LIMIT sits in an ARRAY(...) sub-select, which PostgreSQL runs once (an InitPlan):
# no plan can re-run it per row and claim more than a batch, and the UPDATE finds the
# picked rows by primary key.
CLAIM_RETURNING = """
UPDATE pacs_pacsevent SET state = 'relayed', batch_id = %s, relayed_at = %s
WHERE id = ANY(ARRAY(
    SELECT id FROM pacs_pacsevent WHERE integration_id = %s AND state = 'pending'
    ORDER BY received_at, id LIMIT %s FOR UPDATE SKIP LOCKED
)) AND state = 'pending'
RETURNING id, received_at, body
"""

def _claim(integration: PacsIntegration, size: int) -> list[tuple[uuid.UUID, dict]]:
    """Take up to ``size`` pending events of the integration: (id, body), oldest first.

    One conditional UPDATE locks, claims and returns them (rows another flush took are
    no longer pending).
    """
    batch, now = uuid.uuid4(), timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(CLAIM_RETURNING, [batch, now, integration.pk, size])
        rows = sorted(cursor.fetchall(), key=lambda row: (row[1], row[0]))
    return [(pk, body if isinstance(body, dict) else json.loads(body)) for pk, _, body in rows]


def _payload(integration: PacsIntegration, bodies: list[dict]) -> dict:
    body = {
        "user": integration.owner.as_payload(),
        "domain": integration.domain.name,
        "events": bodies,
    }
    if integration.source_server:
        body["source_server"] = integration.source_server
    return body


def flush(integration_id: str) -> int:
    """Relay every pending event of the integration, N per callback; return how many."""
    integration = (
        PacsIntegration.objects.live()
        .select_related("owner", "domain")
        .filter(integration_id=integration_id)
        .first()
    )
    cache.delete(f"pacs-flush:{integration_id}")
    if integration is None:
        return 0
    relayed = 0
    while True:
        with transaction.atomic():
            events = _claim(integration, settings.PACS_BATCH_SIZE)
            if not events:
                return relayed
            event = publish(
                domain=integration.domain,
                type="pacs.events.created",
                object=_payload(integration, [body for _, body in events]),
                order_key=f"pacs:{integration.integration_id}",
            )
            PacsEvent.objects.filter(pk__in=[pk for pk, _ in events]).update(event_id=event.id)
        relayed += len(events)
        RELAYED.inc(len(events))
        if len(events) < settings.PACS_BATCH_SIZE:
            return relayed


def sweep_pending() -> int:
    """Flush integrations whose pending events waited more than twice T (a lost task); a
    restored integration's events, held while it was deleted, go out this way too."""
    cutoff = timezone.now() - datetime.timedelta(milliseconds=2 * settings.PACS_FLUSH_DELAY_MS)
    stale = (
        PacsEvent.objects.filter(
            state=EventState.PENDING, received_at__lt=cutoff, integration__deleted_at=None
        )
        .values_list("integration__integration_id", flat=True)
        .distinct()
    )
    relayed = 0
    for public_id in list(stale):
        try:
            relayed += flush(public_id)
        except Exception:  # one integration's trouble must not hold up the others
            log.exception("flushing PACS integration %s failed", public_id)
    return relayed
