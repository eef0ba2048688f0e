"""The PACS relay's Prometheus metrics (served at /metrics, camio_portal/metrics.py)."""

from __future__ import annotations

from prometheus_client import Counter

RELAYED = Counter(
    "camio_pacs_events_relayed", "PACS events relayed in pacs.events.created callbacks."
)
