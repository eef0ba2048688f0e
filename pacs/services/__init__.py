"""PACS integrations, their devices and tokens; event ingest; the batched relay; retention."""

from pacs.services.ingest import IngestResult, ingest_events
from pacs.services.integrations import (
    device_map,
    devices_replace,
    integration_create,
    integration_delete,
    integration_restore,
    integration_token_issue,
    integration_token_rotate,
    integration_update,
    integrations_purge,
)
from pacs.services.relay import flush, schedule_flush, sweep_pending
from pacs.services.retention import retention_purge

__all__ = [
    "IngestResult",
    "device_map",
    "devices_replace",
    "flush",
    "ingest_events",
    "integration_create",
    "integration_delete",
    "integration_restore",
    "integration_token_issue",
    "integration_token_rotate",
    "integration_update",
    "integrations_purge",
    "retention_purge",
    "schedule_flush",
    "sweep_pending",
]
