"""Celery tasks (queue ``pacs``; retention on ``maintenance``): relay an integration's
pending events, sweep stragglers, purge old ones and integrations past their undo window."""

from __future__ import annotations

from celery import shared_task

from pacs.services import integrations_purge, relay
from pacs.services import retention as pacs_retention


@shared_task(name="pacs.flush")
def flush_integration(integration_ids: list[str] | str) -> int:
    """Relay the integrations' pending events; safe to run twice (claims are conditional)."""
    ids = [integration_ids] if isinstance(integration_ids, str) else integration_ids
    return sum(relay.flush(integration_id) for integration_id in ids)


@shared_task(name="pacs.sweep")
def sweep() -> int:
    return relay.sweep_pending()


@shared_task(name="pacs.retention")
def retention() -> int:
    return pacs_retention.retention_purge() + integrations_purge()
