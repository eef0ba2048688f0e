"""``/metrics``: Prometheus text, added up over every process of the host.

Each process (gunicorn's workers, Celery's) counts in PROMETHEUS_MULTIPROC_DIR
and the process answering a scrape reads all of them; the backlog gauges are
counted from the database at scrape time, as the admin's backlog page does.
Without the folder, the answering process shows its own counts only.

Access: connections from METRICS_ALLOWED_NETWORKS (judged on REMOTE_ADDR, the
connection's own address; X-Forwarded-For is anyone's to write), or
``Authorization: Bearer <METRICS_TOKEN>``; anything else gets 403.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import logging
from collections.abc import Iterator

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

# Imported so that a process that has counted nothing yet still lists them.
import callbacks.delivery.metrics  # noqa: F401
import camio_portal.http_metrics  # noqa: F401
import incidents.metrics  # noqa: F401
import pacs.metrics  # noqa: F401
from callbacks.selectors import backlog
from incidents.selectors import queued_evaluations

log = logging.getLogger(__name__)

FORBIDDEN = (
    "/metrics answers to connections from METRICS_ALLOWED_NETWORKS, or with "
    "Authorization: Bearer <METRICS_TOKEN>.\n"
)


@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """Serve the metrics to an allowed network or the token's holder; 403 otherwise."""
    if not allowed(request):
        return HttpResponse(FORBIDDEN, status=403, content_type="text/plain")
    response = HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response


def allowed(request: HttpRequest) -> bool:
    """Whether the request holds the token or comes from an allowed network."""
    token = settings.METRICS_TOKEN
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(
        presented.strip().encode(), token.encode()
    ):
        return True
    return from_allowed_network(request.META.get("REMOTE_ADDR", ""))


def from_allowed_network(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # a Unix socket has no address
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(ip in network for network in _networks(tuple(settings.METRICS_ALLOWED_NETWORKS)))


@functools.lru_cache(maxsize=4)
def _networks(
    values: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(value, strict=False) for value in values)


def registry() -> CollectorRegistry:
    """This scrape's metrics: every process's (or this one's) and the backlog."""
    found = CollectorRegistry()
    if settings.PROMETHEUS_MULTIPROC_DIR:
        MultiProcessCollector(found, path=settings.PROMETHEUS_MULTIPROC_DIR)
    else:
        found.register(_ThisProcess())
    found.register(_Backlog())
    found.register(_Evaluations())
    return found


class _ThisProcess:
    """This process's own metrics (no metrics folder)."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


class _Backlog:
    """Deliveries waiting and in flight, counted now (nothing when the database is down)."""

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        try:
            found = backlog(now)
        except DatabaseError as exc:
            log.warning("metrics: the backlog could not be counted (%s)", type(exc).__name__)
            return
        oldest = (now - found.oldest_due).total_seconds() if found.oldest_due else 0.0
        yield GaugeMetricFamily("camio_deliveries_pending",
                                "Deliveries waiting to be sent, due or not.", value=found.pending)
        yield GaugeMetricFamily("camio_deliveries_due",
                                "Deliveries waiting and due now.", value=found.due)
        yield GaugeMetricFamily("camio_deliveries_sending",
                                "Deliveries claimed by a worker.", value=found.sending)
        yield GaugeMetricFamily("camio_oldest_due_delivery_age_seconds",
                                "How long the longest-waiting due delivery has been due "
                                "(0: none).", value=max(0.0, oldest))
        yield GaugeMetricFamily("camio_endpoints_circuit_open",
                                "Endpoints whose circuit breaker is open (deliveries wait).",
                                value=found.circuits_open)
        alive = GaugeMetricFamily("camio_workers_live", "Worker processes that heartbeated "
                                  "within their window, by role.", labels=["role"])
        for role, count in found.workers.items():
            alive.add_metric([role], count)
        yield alive
        sending = GaugeMetricFamily("camio_domain_deliveries_sending", "Deliveries being sent, "
                                    "by domain (the busiest 20).", labels=["domain"])
        due = GaugeMetricFamily("camio_domain_deliveries_due", "Deliveries due and waiting, by "
                                "domain (the busiest 20).", labels=["domain"])
        for name, in_flight, waiting in found.domains:
            sending.add_metric([name], in_flight)
            due.add_metric([name], waiting)
        yield sending
        yield due
        if found.heartbeat is not None:
            yield GaugeMetricFamily("camio_sweeper_heartbeat_age_seconds",
                                    "Seconds since the delivery sweeper last ran.",
                                    value=(now - found.heartbeat).total_seconds())


class _Evaluations:
    """Incident evaluations queued, counted now (at most one per Box)."""

    def collect(self) -> Iterator[Metric]:
        try:
            queued = queued_evaluations()
        except DatabaseError as exc:
            log.warning("metrics: queued evaluations could not be counted (%s)",
                        type(exc).__name__)
            return
        yield GaugeMetricFamily("camio_incident_evaluations_queued",
                                "Boxes with an incident evaluation task queued (at most one "
                                "each).", value=queued)
