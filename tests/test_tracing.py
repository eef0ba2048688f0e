"""P19 (2): request ids and traces. A request's X-Request-ID comes back, sits on its log
lines, is stored on the events it publishes with the W3C trace context, and every attempt
logs and sends them; with OpenTelemetry on (an in-process exporter here), one camera
change is one trace whose attempt span's traceparent is the header the receiver got."""

from __future__ import annotations

import datetime
import io
import json
import logging
import re

import pytest

from callbacks import tracing
from callbacks.delivery.policy import RESERVED_HEADERS
from callbacks.models import Delivery, Event
from camio_portal.logs import JsonFormatter, RequestId
from tests.receiver import wait_for
from tests.support.tracing import spans_on

TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-01")
UPSTREAM = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def patch_camera(client, token: str, camera_id: str, **headers: str):
    return client.patch(f"/api/cameras/{camera_id}", {"name": "Lobby"},
                        content_type="application/json",
                        HTTP_AUTHORIZATION=f"token {token}", **headers)


class Lines:
    """The JSON lines the portal's handler (its request-id filter included) would write."""

    def __enter__(self) -> Lines:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(JsonFormatter())
        self.handler.addFilter(RequestId())
        root = logging.getLogger()
        self.level, root.level = root.level, logging.INFO
        root.addHandler(self.handler)
        return self

    def __exit__(self, *exc: object) -> None:
        root = logging.getLogger()
        root.removeHandler(self.handler)
        root.level = self.level

    def entries(self) -> list[dict]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]


def test_a_sane_request_id_is_kept_and_any_other_replaced():
    assert tracing.sane_request_id("abc") == "abc"
    assert tracing.sane_request_id("req-7f3a:01/b=") == "req-7f3a:01/b="
    for bad in ("", " abc", "a b", "x" * 129, "é", "abc\n", "-abc"):
        assert tracing.sane_request_id(bad) == ""
    assert re.fullmatch(r"[0-9a-f]{32}", tracing.new_request_id())


def test_only_a_valid_traceparent_is_taken():
    assert tracing.parse_traceparent(UPSTREAM) == (
        "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "01")
    for bad in ("", "00-" + "0" * 32 + "-00f067aa0ba902b7-01",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-" + "0" * 16 + "-01",
                "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                UPSTREAM + "-extra", "00-4bf92f35-00f067aa0ba902b7-01"):
        assert tracing.parse_traceparent(bad) is None, bad
    # A later version may carry more fields; its first four are read.
    assert tracing.parse_traceparent("01-" + UPSTREAM[3:] + "-more") is not None


def test_what_an_event_keeps_of_a_trace_context_fits_its_row():
    later = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more-fields"
    with tracing.working_for("abc", later.upper(), "v=" + "x" * 600):
        assert tracing.event_context() == ("abc", UPSTREAM, "")
    with tracing.working_for("abc", UPSTREAM, "vendor=1"):
        [(name, sent)] = tracing.attempt_headers(*tracing.event_context()[1:])[:1]
    assert name == "traceparent" and sent[:36] == UPSTREAM[:36] and sent[-3:] == "-01"


def test_the_trace_headers_are_reserved():
    assert {"traceparent", "tracestate", "camio-request-id"} <= RESERVED_HEADERS


@pytest.mark.django_db(transaction=True)
def test_the_request_id_comes_back_and_reaches_the_logs_the_event_and_the_receiver(
    client, worker, receiver, endpoint_for, camera, acme_admin, token_for
):
    endpoint_for(receiver.url, ["camera.updated"])
    with Lines() as lines:
        answer = patch_camera(client, token_for(acme_admin), camera.camera_id,
                              HTTP_X_REQUEST_ID="abc", HTTP_TRACEPARENT=UPSTREAM,
                              HTTP_TRACESTATE="vendor=1")
        assert answer.status_code == 200
        assert answer["X-Request-ID"] == "abc"
        wait_for(lambda: Delivery.objects.filter(state="succeeded").exists(), timeout=30,
                 what="the camera change delivered")
        delivery = Delivery.objects.get()
        wait_for(lambda: any(e.get("delivery_id") == str(delivery.pk) for e in lines.entries()),
                 timeout=10, what="the attempt's log line")
    event = Event.objects.get(type="camera.updated")
    assert (event.request_id, event.traceparent, event.tracestate) == ("abc", UPSTREAM,
                                                                       "vendor=1")
    [got] = receiver.received
    headers = {name.lower(): value for name, value in got.headers.items()}
    assert headers["camio-request-id"] == "abc"
    assert headers["tracestate"] == "vendor=1"
    sent = TRACEPARENT.fullmatch(headers["traceparent"])
    assert sent and sent[1] == "4bf92f3577b34da6a3ce929d0e0e4736"  # the caller's trace
    assert sent[2] != "00f067aa0ba902b7"  # the attempt's own span id
    [attempt] = [e for e in lines.entries() if e.get("delivery_id") == str(delivery.pk)]
    assert attempt["request_id"] == "abc"
    assert attempt["event_id"] == str(event.id)


@pytest.mark.django_db
def test_without_an_id_a_request_gets_one_and_a_new_trace(client, camera, acme_admin,
                                                           endpoint_for, receiver, token_for):
    endpoint_for(receiver.url, ["camera.updated"])
    answer = patch_camera(client, token_for(acme_admin), camera.camera_id,
                          HTTP_X_REQUEST_ID="not sane!")
    request_id = answer["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    event = Event.objects.get(type="camera.updated")
    assert event.request_id == request_id
    assert TRACEPARENT.fullmatch(event.traceparent) and event.tracestate == ""


@pytest.mark.django_db
def test_log_lines_of_a_request_carry_its_id(client, acme_admin, token_for):
    with Lines() as lines:
        with tracing.working_for("abc"):
            logging.getLogger("domains.x").warning("inside")
        logging.getLogger("domains.x").warning("outside")
        logging.getLogger("domains.x").warning("given", extra={"request_id": "xyz"})
    assert [(e["message"], e.get("request_id")) for e in lines.entries()] == [
        ("inside", "abc"), ("outside", None), ("given", "xyz")]


@pytest.mark.django_db(transaction=True)
def test_the_trace_headers_can_be_turned_off(settings, worker, receiver, endpoint_for,
                                             camera, client, acme_admin, token_for):
    settings.CALLBACK_TRACE_HEADERS = False
    endpoint_for(receiver.url, ["camera.updated"])
    patch_camera(client, token_for(acme_admin), camera.camera_id, HTTP_X_REQUEST_ID="abc")
    wait_for(lambda: receiver.received, timeout=30, what="the callback")
    names = {name.lower() for name in receiver.received[0].headers}
    assert not names & {"traceparent", "tracestate", "camio-request-id"}
    assert "webhook-signature" in names


@pytest.mark.django_db(transaction=True)
def test_one_camera_change_is_one_trace_whose_attempt_span_is_the_receivers_traceparent(
    client, worker, receiver, endpoint_for, camera, acme_admin, token_for
):
    endpoint_for(receiver.url, ["camera.updated"])
    with spans_on() as exporter:
        answer = patch_camera(client, token_for(acme_admin), camera.camera_id)
        assert answer.status_code == 200
        wait_for(lambda: receiver.received, timeout=30, what="the callback")
        wait_for(lambda: any(s.name == "callback attempt" for s in exporter.get_finished_spans()),
                 timeout=10, what="the attempt's span")
    spans = {s.name: s for s in exporter.get_finished_spans()}
    request, publish = spans["PATCH api:camera-detail"], spans["publish"]
    attempt, claim = spans["callback attempt"], spans["claim"]
    trace_id = request.context.trace_id
    assert publish.context.trace_id == attempt.context.trace_id == trace_id
    assert publish.parent.span_id == request.context.span_id
    assert attempt.parent.span_id == publish.context.span_id
    event = Event.objects.get(type="camera.updated")
    assert attempt.attributes["camio.event_id"] == str(event.id)
    assert str(event.id) in publish.attributes["camio.event_id"]
    assert [link.context.trace_id for link in claim.links] == [trace_id]
    assert attempt.attributes["http.response.status_code"] == 200
    sent = {name.lower(): value for name, value in receiver.received[0].headers.items()}
    assert sent["traceparent"] == (f"00-{attempt.context.trace_id:032x}-"
                                   f"{attempt.context.span_id:016x}-{attempt.context.trace_flags:02x}")
    assert event.traceparent == (f"00-{publish.context.trace_id:032x}-"
                                 f"{publish.context.span_id:016x}-{publish.context.trace_flags:02x}")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("counter_rules")  # a transactional test before may have emptied them
def test_a_task_the_request_queued_publishes_with_its_request_id(
    worker, receiver, endpoint_for, box, camera, token_for, client_with
):
    """A Box's counter report is judged by a task on the incidents queue: the incident's
    callback still names the report's request."""
    endpoint_for(receiver.url, ["incident.created"])
    client = client_with(token_for(kind="box", device=box), "Bearer")
    answer = client.post(
        f"/api/devices/{box.device_id}/counters",
        {"time": datetime.datetime.now(datetime.UTC).isoformat(),
         "cameras": {camera.camera_id: {"segmentation_process_restart_count": 47}}},
        HTTP_X_REQUEST_ID="box-report-1", HTTP_TRACEPARENT=UPSTREAM)
    assert answer.status_code == 202 and answer["X-Request-ID"] == "box-report-1"
    wait_for(lambda: receiver.received, what="incident.created")
    event = Event.objects.get(type="incident.created")
    assert (event.request_id, event.traceparent) == ("box-report-1", UPSTREAM)
    headers = {name.lower(): value for name, value in receiver.received[0].headers.items()}
    assert headers["camio-request-id"] == "box-report-1"
    assert headers["traceparent"].startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("counter_rules")
def test_with_spans_on_a_task_stays_in_the_requests_trace_and_a_long_tracestate_is_dropped(
    worker, receiver, endpoint_for, box, camera, token_for, client_with
):
    endpoint_for(receiver.url, ["incident.created"])
    client = client_with(token_for(kind="box", device=box), "Bearer")
    with spans_on() as exporter:
        answer = client.post(
            f"/api/devices/{box.device_id}/counters",
            {"time": datetime.datetime.now(datetime.UTC).isoformat(),
             "cameras": {camera.camera_id: {"segmentation_process_restart_count": 47}}},
            HTTP_TRACEPARENT=UPSTREAM, HTTP_TRACESTATE="v=" + "x" * 600)
        assert answer.status_code == 202
        wait_for(lambda: receiver.received, what="incident.created")
    event = Event.objects.get(type="incident.created")
    assert event.traceparent[3:35] == UPSTREAM[3:35]  # the caller's trace, through the task
    assert event.tracestate == ""  # longer than a row keeps: dropped, never cut
    publish = next(s for s in exporter.get_finished_spans() if s.name == "publish")
    request = next(s for s in exporter.get_finished_spans() if s.kind.name == "SERVER")
    assert publish.context.trace_id == request.context.trace_id
    assert publish.parent.span_id == request.context.span_id  # the task published for it


@pytest.mark.django_db
def test_the_upgrade_names_endpoints_that_set_a_header_now_reserved(endpoint_for, caplog):
    import importlib

    from django.apps import apps

    from callbacks.models import Endpoint

    endpoint = endpoint_for("https://hooks.acme.com/in", ["camera.updated"])
    Endpoint.objects.filter(pk=endpoint.pk).update(
        headers={"Traceparent": "mine", "X-Api-Key": "k"})
    migration = importlib.import_module("callbacks.migrations.0012_event_trace_context")
    with caplog.at_level(logging.WARNING, logger="callbacks.migrations"):
        migration.list_reserved_headers(apps, None)
    [line] = [r.getMessage() for r in caplog.records if r.name == "callbacks.migrations"]
    assert endpoint.endpoint_id in line and "sets Traceparent, now reserved" in line
