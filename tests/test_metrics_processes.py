"""P11 acceptance 1: /metrics, served by gunicorn, adds up what every process counted
(two worker processes, one after the other, sharing PROMETHEUS_MULTIPROC_DIR), in text
prometheus-client's parser reads; from 127.0.0.2 it answers 403 unless the request
holds the token, whatever X-Forwarded-For says."""

from __future__ import annotations

import http.client
import signal

import pytest
from django.db import transaction
from prometheus_client.parser import text_string_to_metric_families

from callbacks import catalog
from callbacks.models import Delivery
from callbacks.publishing import publish
from tests.processes import free_port, kill_group, start_web, start_worker, web_answers
from tests.receiver import wait_for

TOKEN = "scrape-me-2c9e41d07a"
DELIVERY_QUEUES = "deliveries,deliveries-replay"


def get(port: int, source: str = "127.0.0.1", **headers: str) -> tuple[int, str]:
    """GET /metrics on 127.0.0.1 from the connection's ``source`` address."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10,
                                            source_address=(source, 0))
    try:
        connection.request("GET", "/metrics", headers=headers)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def total(text: str, name: str, **labels: str) -> float:
    """Sum the samples of ``name`` whose labels include ``labels``."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def deliver(acme, receiver, count: int, expected: int) -> None:
    example = catalog.get("camera.created").example
    with transaction.atomic():
        for _ in range(count):
            publish(domain=acme, type="camera.created", object=example)
    wait_for(lambda: Delivery.objects.filter(state="succeeded").count() == expected,
             timeout=60, what=f"{expected} deliveries recorded as succeeded")


@pytest.mark.django_db(transaction=True)
def test_metrics_add_up_over_processes_and_only_allowed_callers_read_them(
    tmp_path, receiver, endpoint_for, acme
):
    folder = tmp_path / "metrics"
    shared = {"PROMETHEUS_MULTIPROC_DIR": str(folder)}
    endpoint_for(receiver.url, ["camera.created"])
    first = start_worker(tmp_path / "worker-1.log", tmp_path / "beat-1", DELIVERY_QUEUES, **shared)
    try:
        deliver(acme, receiver, 3, expected=3)
    finally:
        kill_group(first, signal.SIGTERM)  # its counts stay in the folder
    second = start_worker(tmp_path / "worker-2.log", tmp_path / "beat-2", DELIVERY_QUEUES,
                          **shared)
    port = free_port()
    web = start_web(tmp_path / "web.log", port, workers=2, METRICS_TOKEN=TOKEN,
                    METRICS_ALLOWED_NETWORKS="127.0.0.1/32", **shared)
    try:
        deliver(acme, receiver, 2, expected=5)
        wait_for(lambda: web_answers(port), timeout=60, what="gunicorn")
        status, text = get(port)
        assert status == 200, text
        assert len(list(folder.glob("counter_*.db"))) >= 2  # each worker its own file
        assert total(text, "camio_deliveries_total", outcome="succeeded") == 5
        assert total(text, "camio_deliveries_total", outcome="retrying") == 0
        assert total(text, "camio_delivery_attempt_duration_seconds_count") == 5
        assert total(text, "camio_delivery_latency_seconds_count") == 5
        assert total(text, "camio_deliveries_pending") == 0

        assert get(port, "127.0.0.2")[0] == 403
        assert get(port, "127.0.0.2", **{"X-Forwarded-For": "127.0.0.1"})[0] == 403
        status, text = get(port, "127.0.0.2", Authorization=f"Bearer {TOKEN}")
        assert status == 200
        assert total(text, "camio_deliveries_total", outcome="succeeded") == 5
    finally:
        kill_group(web, signal.SIGTERM)
        kill_group(second, signal.SIGTERM)
