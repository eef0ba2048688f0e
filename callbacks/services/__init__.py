"""Writes of the callbacks app: endpoints, resend, replay, test events, retention."""

from callbacks.services.deliveries import (
    delivery_cancel,
    delivery_resend,
    replay_count,
    replay_events,
    replay_run,
    replay_start,
    send_test_event,
    send_test_event_now,
)
from callbacks.services.endpoints import (
    circuit_notify,
    endpoint_create,
    endpoint_delete,
    endpoint_disable,
    endpoint_enable,
    endpoint_probe_now,
    endpoint_restore,
    endpoint_reveal_headers,
    endpoint_reveal_secret,
    endpoint_rotate_secret,
    endpoint_update,
)
from callbacks.services.retention import delete_in_batches, retention_purge

__all__ = [
    "circuit_notify",
    "delete_in_batches",
    "delivery_cancel",
    "delivery_resend",
    "endpoint_create",
    "endpoint_delete",
    "endpoint_disable",
    "endpoint_enable",
    "endpoint_probe_now",
    "endpoint_restore",
    "endpoint_reveal_headers",
    "endpoint_reveal_secret",
    "endpoint_rotate_secret",
    "endpoint_update",
    "replay_count",
    "replay_events",
    "replay_run",
    "replay_start",
    "retention_purge",
    "send_test_event",
    "send_test_event_now",
]
