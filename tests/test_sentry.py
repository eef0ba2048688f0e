"""P11 acceptance 8: with SENTRY_DSN pointing at a loopback collector, an exception in a
task and one in a view each arrive as one event, with no request body, no header value
and no endpoint secret or header value (tests/probes.py raises them, with those at hand).
And the scrubber alone, on an event shaped as the SDK sends it."""

from __future__ import annotations

import gzip
import json
import signal
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from camio_portal.celery import app
from camio_portal.monitoring import FILTERED, scrub
from tests.processes import free_port, kill_group, start_web, start_worker, web_answers
from tests.receiver import wait_for

HEADER_VALUE = "hdr-value-5f0e2b7c9a"  # an endpoint's custom header value
BODY_SECRET = "body-secret-81d4c6e0"
QUERY_SECRET = "query-secret-3a9b"
PROBES = {"CAMIO_TEST_URLCONF": "tests.probes", "CAMIO_TEST_CELERY_IMPORTS": "tests.probes"}


class Collector:
    """A fake Sentry: keeps every envelope POSTed to /api/<project>/envelope/."""

    def __init__(self) -> None:
        self.envelopes: list[bytes] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return None

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path.startswith("/api/1/envelope"):
                    collector.envelopes.append(body)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def dsn(self) -> str:
        return f"http://publickey@127.0.0.1:{self.server.server_address[1]}/1"

    def events(self) -> list[dict]:
        """The error events among the envelopes' items."""
        found = []
        for envelope in self.envelopes:
            lines = envelope.split(b"\n")
            for header, payload in zip(lines[1::2], lines[2::2], strict=False):
                if header and json.loads(header).get("type") == "event":
                    found.append(json.loads(payload))
        return found

    def of(self, kind: str) -> list[dict]:
        """The probe's events from a task (Celery's context) or a view (a request)."""
        probes = [e for e in self.events()
                  if any(v.get("type") == "ProbeError" for v in e["exception"]["values"])]
        if kind == "task":
            return [e for e in probes if "celery-job" in e.get("extra", {})]
        return [e for e in probes if "request" in e]


@pytest.fixture
def collector():
    server = Collector()
    yield server
    server.server.shutdown()


def post_to_probe(port: int, endpoint_pk: int) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/probe/{endpoint_pk}?token={QUERY_SECRET}",
        data=json.dumps({"headers": {"X-Api-Key": HEADER_VALUE}, "note": BODY_SECRET}).encode(),
        headers={"Content-Type": "application/json", "X-Api-Key": HEADER_VALUE,
                 "Cookie": f"sessionid={BODY_SECRET}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.django_db(transaction=True)
def test_a_task_error_and_a_view_error_each_arrive_once_without_secrets(
    tmp_path, collector, endpoint_for
):
    endpoint = endpoint_for("https://hooks.acme.com/in", ["camera.created"],
                            headers={"X-Api-Key": HEADER_VALUE})
    reporting = {"SENTRY_DSN": collector.dsn, **PROBES}
    worker = start_worker(tmp_path / "worker.log", tmp_path / "beat", "celery", **reporting)
    port = free_port()
    web = start_web(tmp_path / "web.log", port, **reporting)
    try:
        app.send_task("tests.probe_task", args=[endpoint.pk], queue="celery")
        wait_for(lambda: web_answers(port), timeout=60, what="gunicorn")
        assert post_to_probe(port, endpoint.pk) == 500
        wait_for(lambda: len(collector.of("task")) and len(collector.of("view")), timeout=60,
                 what="both errors at the collector")
    finally:  # a graceful stop sends whatever the SDK still holds
        kill_group(web, signal.SIGTERM)
        kill_group(worker, signal.SIGTERM)
    task, view = collector.of("task"), collector.of("view")
    assert (len(task), len(view)) == (1, 1), [e.get("transaction") for e in collector.events()]
    request = view[0]["request"]
    assert "data" not in request and "cookies" not in request and "query_string" not in request
    assert request["headers"]["X-Api-Key"] == FILTERED
    assert set(request["headers"].values()) == {FILTERED}
    everything = b"\n".join(collector.envelopes).decode()
    for secret in (HEADER_VALUE, BODY_SECRET, QUERY_SECRET, endpoint.secret):
        assert secret not in everything
    for event in (task[0], view[0]):
        frames = event["exception"]["values"][-1]["stacktrace"]["frames"]
        assert not any("vars" in frame for frame in frames)


def test_the_scrubber_keeps_where_an_error_was_and_drops_every_value():
    event = {
        "request": {
            "url": f"https://portal.example/domains/acme.com/endpoints/new?t={QUERY_SECRET}",
            "method": "POST",
            "headers": {"X-Api-Key": HEADER_VALUE, "Content-Type": "application/json"},
            "data": {"headers": HEADER_VALUE},
            "cookies": {"sessionid": BODY_SECRET},
            "query_string": f"t={QUERY_SECRET}",
            "env": {"REMOTE_ADDR": "10.0.0.1"},
        },
        "extra": {"delivery_id": "d-1", "sys.argv": ["x"], "headers": HEADER_VALUE,
                  "celery-job": {"task_name": "callbacks.deliver", "args": [HEADER_VALUE]}},
        "breadcrumbs": {"values": [{"category": "httplib", "message": "sent",
                                    "data": {"url": f"https://hooks/?k={QUERY_SECRET}"}}]},
        "exception": {"values": [{"type": "E", "stacktrace": {"frames": [
            {"function": "f", "vars": {"secret": BODY_SECRET}}]}}]},
    }
    scrubbed = scrub(event, {})
    assert scrubbed["request"] == {
        "url": "https://portal.example/domains/acme.com/endpoints/new",
        "method": "POST",
        "headers": {"X-Api-Key": FILTERED, "Content-Type": FILTERED},
    }
    assert scrubbed["extra"] == {"delivery_id": "d-1",
                                 "celery-job": {"task_name": "callbacks.deliver"}}
    assert scrubbed["breadcrumbs"]["values"] == [{"category": "httplib", "message": "sent"}]
    text = json.dumps(scrubbed)
    for secret in (HEADER_VALUE, BODY_SECRET, QUERY_SECRET):
        assert secret not in text
