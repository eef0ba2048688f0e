"""Celery tasks: relay an integration's pending events, sweep stragglers, purge old ones."""

from __future__ import annotations

from celery import shared_task

from pacs.services import relay


@shared_task(name="pacs.flush")
def flush_integration(integration_id: str) -> int:
    """Relay the integration's pending events; safe to run twice (claims are conditional)."""
    return relay.flush(integration_id)


@shared_task(name="pacs.sweep")
def sweep() -> int:
    return relay.sweep_pending()


@shared_task(name="pacs.retention")
def retention() -> int:
    return relay.retention_purge()
