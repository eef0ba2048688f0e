"""Incidents' Prometheus metrics (served at /metrics, camio_portal/metrics.py)."""

from __future__ import annotations

from prometheus_client import Counter

_reports = Counter(
    "camio_counter_reports", "Counter reports received from Boxes, by what became of each.",
    ["outcome"],
)
REPORTS_ACCEPTED = _reports.labels("accepted")
REPORTS_DUPLICATE = _reports.labels("duplicate")
REPORTS_REJECTED = _reports.labels("rejected")

_opened = Counter(
    "camio_incidents_opened",
    "Incidents opened by evaluation (historical: too old to publish an incident.created).",
    ["historical"],
)
OPENED = {False: _opened.labels("false"), True: _opened.labels("true")}
