"""P11 acceptance 8: with SENTRY_DSN pointing at a loopback collector, an exception in a
task and one in a view each arrive as one event, with no request body, no header value
and no endpoint secret or header value (tests/probes.py raises them, with those at hand).
And the scrubber alone, on an event shaped as the SDK sends it."""

from __future__ import annotations

import json
import signal

import pytest

from camio_portal.celery import app
from camio_portal.monitoring import FILTERED, scrub
from tests.processes import free_port, kill_group, start_web, start_worker, web_answers
from tests.receiver import wait_for
from tests.support.sentry import (
    BODY_SECRET,
    HEADER_VALUE,
    PROBES,
    QUERY_SECRET,
    post_to_probe,
)


@pytest.mark.django_db(transaction=True)
def test_a_task_error_and_a_view_error_each_arrive_once_without_secrets(
    tmp_path, sentry_collector, endpoint_for
):
    endpoint = endpoint_for("https://hooks.acme.com/in", ["camera.created"],
                            headers={"X-Api-Key": HEADER_VALUE})
    reporting = {"SENTRY_DSN": sentry_collector.dsn, **PROBES}
    worker = start_worker(tmp_path / "worker.log", tmp_path / "beat", "celery", **reporting)
    port = free_port()
    web = start_web(tmp_path / "web.log", port, **reporting)
    try:
        app.send_task("tests.probe_task", args=[endpoint.pk], queue="celery")
        wait_for(lambda: web_answers(port), timeout=60, what="gunicorn")
        assert post_to_probe(port, endpoint.pk) == 500
        wait_for(
            lambda: len(sentry_collector.of("task")) and len(sentry_collector.of("view")),
            timeout=60,
            what="both errors at the collector",
        )
    finally:  # a graceful stop sends whatever the SDK still holds
        kill_group(web, signal.SIGTERM)
        kill_group(worker, signal.SIGTERM)
    task, view = sentry_collector.of("task"), sentry_collector.of("view")
    assert (len(task), len(view)) == (1, 1), [
        e.get("transaction") for e in sentry_collector.events()
    ]
    assert view[0]["tags"]["request_id"] == "probe-request-1"  # joins the request's log lines
    request = view[0]["request"]
    assert "data" not in request and "cookies" not in request and "query_string" not in request
    assert request["headers"]["X-Api-Key"] == FILTERED
    assert set(request["headers"].values()) == {FILTERED}
    everything = b"\n".join(sentry_collector.envelopes).decode()
    for secret in (HEADER_VALUE, BODY_SECRET, QUERY_SECRET, endpoint.current_key().secret):
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
