"""Reads of callbacks data for other apps' pages, the API, the admin and the health check,
in named parts; this module is their one public face."""

from callbacks.selectors.curl import (
    HOW_TO_SIGN,
    FreshSignature,
    attempt_as_curl,
    placeholder,
)
from callbacks.selectors.deliveries import (
    HourStat,
    deliveries_for,
    delivery_detail,
    delivery_summary,
    log_summary,
    pending_deliveries,
    pretty_body,
    replay_outcomes,
    same_event_deliveries,
)
from callbacks.selectors.endpoints import (
    PREVIEW_EVENTS,
    EndpointRow,
    FilterPreview,
    endpoint_rows,
    filter_preview,
    operational_listeners,
    recently_deleted_endpoints,
    waiting_behind_circuit,
)
from callbacks.selectors.keys import (
    JWKS_PATH,
    endpoint_ed25519,
    jwks,
    jwks_url,
)
from callbacks.selectors.operations import (
    Backlog,
    backlog,
    broker_status,
    domain_backlog,
    heartbeat_status,
    worker_status,
)

__all__ = [
    "HOW_TO_SIGN",
    "JWKS_PATH",
    "PREVIEW_EVENTS",
    "Backlog",
    "EndpointRow",
    "FilterPreview",
    "FreshSignature",
    "HourStat",
    "attempt_as_curl",
    "backlog",
    "broker_status",
    "deliveries_for",
    "delivery_detail",
    "delivery_summary",
    "domain_backlog",
    "endpoint_ed25519",
    "endpoint_rows",
    "filter_preview",
    "heartbeat_status",
    "jwks",
    "jwks_url",
    "log_summary",
    "operational_listeners",
    "pending_deliveries",
    "placeholder",
    "pretty_body",
    "recently_deleted_endpoints",
    "replay_outcomes",
    "same_event_deliveries",
    "waiting_behind_circuit",
    "worker_status",
]
