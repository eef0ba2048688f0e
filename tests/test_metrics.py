"""/metrics in this process: who may read it, what it says, and what each part of the
portal counts (deliveries by outcome, test events apart, counter reports, incidents,
PACS events relayed, the backlog). Across processes: tests/test_metrics_processes.py."""

from __future__ import annotations

import datetime
import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from callbacks import catalog
from callbacks.delivery.dispatcher import send_now
from callbacks.models import Delivery, Endpoint
from callbacks.publishing import publish
from callbacks.services import send_test_event_now
from incidents import services as incidents
from pacs.services import ingest_events
from pacs.services.relay import flush

TOKEN = "scrape-me-7b1f0c5e9d2a4c8e"
ONGUARD = json.loads((Path(__file__).parent / "fixtures" / "pacs" / "onguard.json").read_text())


def scrape(client: Client | None = None, **extra: Any):
    response = (client or Client()).get("/metrics", **extra)
    return response, response.content.decode()


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample of a scrape, read by prometheus-client's own parser."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


# --- Who may read it --------------------------------------------------------------


@pytest.mark.django_db
def test_loopback_reads_the_metrics_without_credentials():
    response, text = scrape()
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    found = samples(text)
    assert ("camio_deliveries_total", (("outcome", "succeeded"),)) in found
    assert ("camio_deliveries_pending", ()) in found
    assert ("camio_oldest_due_delivery_age_seconds", ()) in found


@pytest.mark.django_db
def test_ipv6_loopback_is_allowed_by_default():
    assert scrape(REMOTE_ADDR="::1")[0].status_code == 200
    assert scrape(REMOTE_ADDR="::ffff:127.0.0.1")[0].status_code == 200


@pytest.mark.django_db
def test_another_address_gets_403_whatever_x_forwarded_for_says(settings):
    settings.METRICS_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.METRICS_TOKEN = TOKEN
    outsider = {"REMOTE_ADDR": "127.0.0.2"}
    response, text = scrape(**outsider)
    assert response.status_code == 403
    assert "camio_" not in text
    assert scrape(**outsider, HTTP_X_FORWARDED_FOR="127.0.0.1")[0].status_code == 403
    assert scrape(**outsider, HTTP_X_REAL_IP="127.0.0.1")[0].status_code == 403
    assert scrape(REMOTE_ADDR="10.1.2.3")[0].status_code == 403
    assert scrape(REMOTE_ADDR="127.0.0.1")[0].status_code == 200


@pytest.mark.django_db
def test_the_token_lets_any_address_in_and_a_wrong_one_does_not(settings):
    settings.METRICS_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.METRICS_TOKEN = TOKEN
    outsider = {"REMOTE_ADDR": "203.0.113.9"}
    assert scrape(**outsider, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")[0].status_code == 200
    assert scrape(**outsider, HTTP_AUTHORIZATION=f"bearer {TOKEN}")[0].status_code == 200
    assert scrape(**outsider, HTTP_AUTHORIZATION=f"Bearer {TOKEN}x")[0].status_code == 403
    assert scrape(**outsider, HTTP_AUTHORIZATION=f"token {TOKEN}")[0].status_code == 403
    assert scrape(**outsider, HTTP_AUTHORIZATION="Bearer ")[0].status_code == 403


@pytest.mark.django_db
def test_without_a_token_configured_no_bearer_gets_in(settings):
    settings.METRICS_ALLOWED_NETWORKS = []
    settings.METRICS_TOKEN = ""
    assert scrape()[0].status_code == 403  # not even loopback: the list is empty
    assert scrape(HTTP_AUTHORIZATION="Bearer ")[0].status_code == 403


@pytest.mark.django_db
def test_only_reads_are_answered():
    assert Client().post("/metrics").status_code == 405
    assert Client().head("/metrics").status_code == 200


# --- What it counts ---------------------------------------------------------------


@pytest.mark.django_db
def test_a_delivered_callback_counts_as_succeeded_with_its_times(receiver, endpoint_for, acme):
    endpoint_for(receiver.url, ["camera.created"])
    before = {
        "succeeded": value("camio_deliveries_total", outcome="succeeded"),
        "attempts": value("camio_delivery_attempt_duration_seconds_count"),
        "latency": value("camio_delivery_latency_seconds_count"),
    }
    publish(domain=acme, type="camera.created", object=catalog.get("camera.created").example)
    result = send_now(str(Delivery.objects.get().pk))
    assert result is not None and result.status == 200
    assert value("camio_deliveries_total", outcome="succeeded") == before["succeeded"] + 1
    assert value("camio_delivery_attempt_duration_seconds_count") == before["attempts"] + 1
    assert value("camio_delivery_latency_seconds_count") == before["latency"] + 1
    found = samples(scrape()[1])
    assert found[("camio_deliveries_total", (("outcome", "succeeded"),))] == before[
        "succeeded"
    ] + 1


@pytest.mark.django_db
def test_a_failed_attempt_counts_as_retrying_and_its_latency_is_not_measured(
    receiver, endpoint_for, acme
):
    receiver.answer = lambda index, request: (500, {}, b"down")
    endpoint_for(receiver.url, ["camera.created"])
    retrying = value("camio_deliveries_total", outcome="retrying")
    latency = value("camio_delivery_latency_seconds_count")
    publish(domain=acme, type="camera.created", object=catalog.get("camera.created").example)
    send_now(str(Delivery.objects.get().pk))
    assert Delivery.objects.get().state == "pending"
    assert value("camio_deliveries_total", outcome="retrying") == retrying + 1
    assert value("camio_delivery_latency_seconds_count") == latency


@pytest.mark.django_db
def test_test_events_are_counted_apart(receiver, endpoint_for):
    endpoint = endpoint_for(receiver.url, ["camera.created"])
    real = value("camio_deliveries_total", outcome="succeeded")
    attempts = value("camio_delivery_attempt_duration_seconds_count")
    tests = value("camio_test_deliveries_total", outcome="succeeded")
    delivery, _ = send_test_event_now(endpoint=endpoint, event_type="camera.created", actor=None)
    assert delivery.state == "succeeded"
    assert value("camio_test_deliveries_total", outcome="succeeded") == tests + 1
    assert value("camio_deliveries_total", outcome="succeeded") == real
    assert value("camio_delivery_attempt_duration_seconds_count") == attempts


@pytest.mark.django_db
def test_the_backlog_is_counted_from_the_database_at_scrape_time(endpoint_for, acme):
    endpoint_for("https://hooks.acme.com/", ["camera.created"])
    example = catalog.get("camera.created").example
    for _ in range(3):
        publish(domain=acme, type="camera.created", object=example)
    an_hour_ago = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)
    Delivery.objects.filter(pk=Delivery.objects.first().pk).update(next_attempt_at=an_hour_ago)
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
    Delivery.objects.filter(pk=Delivery.objects.last().pk).update(next_attempt_at=later)
    found = samples(scrape()[1])
    assert found[("camio_deliveries_pending", ())] == 3
    assert found[("camio_deliveries_due", ())] == 2
    assert 3600 <= found[("camio_oldest_due_delivery_age_seconds", ())] < 3700
    assert found[("camio_endpoints_circuit_open", ())] == 0
    Endpoint.objects.update(circuit_opened_at=datetime.datetime.now(datetime.UTC))
    assert samples(scrape()[1])[("camio_endpoints_circuit_open", ())] == 1


@pytest.mark.django_db
def test_queued_evaluations_count_one_per_box_however_many_requests(box, counter_rules):
    from incidents.services import request_evaluation

    assert samples(scrape()[1])[("camio_incident_evaluations_queued", ())] == 0
    for _ in range(5):
        request_evaluation([box.pk])
    assert samples(scrape()[1])[("camio_incident_evaluations_queued", ())] == 1


@pytest.mark.django_db
def test_counter_reports_count_by_outcome_and_opened_incidents(box, camera, counter_rules):
    accepted = value("camio_counter_reports_total", outcome="accepted")
    duplicate = value("camio_counter_reports_total", outcome="duplicate")
    rejected = value("camio_counter_reports_total", outcome="rejected")
    opened = value("camio_incidents_opened_total", historical="false")
    report = {
        "report_id": "r-1",
        "time": datetime.datetime.now(datetime.UTC).isoformat(),
        "cameras": {camera.camera_id: {"segmentation_process_restart_count": 47}},
    }
    result = incidents.ingest_reports(device=box, reports=[report, report, {"time": "never"}])
    assert (result.accepted, result.duplicates) == ([0], [1])
    assert value("camio_counter_reports_total", outcome="accepted") == accepted + 1
    assert value("camio_counter_reports_total", outcome="duplicate") == duplicate + 1
    assert value("camio_counter_reports_total", outcome="rejected") == rejected + 1
    assert len(incidents.evaluate_reports(result.report_ids)) == 1
    assert value("camio_incidents_opened_total", historical="false") == opened + 1


@pytest.mark.django_db
def test_relayed_pacs_events_are_counted(integration, pacs_labels):
    before = value("camio_pacs_events_relayed_total")
    events = [{**ONGUARD["event"], "serial_number": 9000 + n} for n in range(3)]
    ingest_events(integration=integration, events=events)
    assert flush(integration.integration_id) == 3
    assert value("camio_pacs_events_relayed_total") == before + 3


# --- Requests by route ------------------------------------------------------------------


def http_requests(route: str, method: str, status: str) -> float:
    return value("camio_http_requests_total", route=route, method=method, status=status)


@pytest.mark.django_db
def test_requests_count_by_route_name_method_and_status_class(acme_admin_client, api_endpoint):
    before = {
        "page": http_requests("domains:domain", "GET", "2xx"),
        "api": http_requests("api:endpoint-detail", "GET", "2xx"),
        "gone": http_requests("api:endpoint-detail", "GET", "4xx"),
        "unmatched": http_requests("unmatched", "GET", "4xx"),
        "gateway": http_requests("pacs:webhooks", "POST", "4xx"),
    }
    endpoint_id = api_endpoint["endpoint_id"]
    assert acme_admin_client.get("/domains/acme.com/").status_code == 200
    assert acme_admin_client.get(f"/api/endpoints/{endpoint_id}").status_code == 200
    assert acme_admin_client.get(f"/api/endpoints/{'Z' * 24}").status_code == 404
    assert acme_admin_client.get("/no/such/page").status_code == 404
    assert Client().post("/pacs/webhooks", {}, content_type="application/json").status_code == 401
    assert http_requests("domains:domain", "GET", "2xx") == before["page"] + 1
    assert http_requests("api:endpoint-detail", "GET", "2xx") == before["api"] + 1
    assert http_requests("api:endpoint-detail", "GET", "4xx") == before["gone"] + 1
    assert http_requests("unmatched", "GET", "4xx") == before["unmatched"] + 1
    assert http_requests("pacs:webhooks", "POST", "4xx") == before["gateway"] + 1
    _, text = scrape()
    routes = {
        dict(labels)["route"]
        for (name, labels) in samples(text)
        if name == "camio_http_request_duration_seconds_count"
    }
    assert {"domains:domain", "api:endpoint-detail", "pacs:webhooks"} <= routes
    assert not any(endpoint_id in route for route in routes)  # names, never ids


DASHBOARD = Path(__file__).parent.parent / "docs" / "grafana" / "camio-portal.json"
SUFFIXES = ("_total", "_bucket", "_count", "_sum", "_created")


@pytest.mark.django_db
def test_every_dashboard_expression_names_a_family_metrics_exports(acme_admin_client):
    acme_admin_client.get("/domains/acme.com/")  # a request, so the route series exist
    _, text = scrape()
    families = {family.name for family in text_string_to_metric_families(text)}
    panels = json.loads(DASHBOARD.read_text())["panels"]
    expressions = [target["expr"] for panel in panels for target in panel["targets"]]
    named = set()
    for expression in expressions:
        for name in re.findall(r"\bcamio_[a-z0-9_]+", expression):
            family = next((name[: -len(s)] for s in SUFFIXES if name.endswith(s)), name)
            assert family in families, f"{name} in {expression!r}: /metrics has no {family}"
            named.add(family)
    assert {"camio_http_requests", "camio_http_request_duration_seconds"} <= named
    assert len(named) >= 12
