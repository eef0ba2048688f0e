"""P11 acceptance 2: with LOG_FORMAT=json, every line gunicorn, the worker and its beat
write while a camera change is delivered is one JSON object (time, level, logger,
message), and the delivery's line carries its delivery_id, event_id, endpoint_id and
domain; P19 acceptance 2: a request sent with ``X-Request-ID: abc`` gets it back, and its
access line and its delivery's line carry ``request_id: "abc"``. The formatter itself:
extras as fields, tracebacks inside the object."""

from __future__ import annotations

import json
import logging
import re
import signal
import sys
import urllib.request
from pathlib import Path

import pytest

from callbacks.models import Delivery
from camio_portal.logs import JsonFormatter, TextFormatter
from tests.processes import free_port, kill_group, start_web, start_worker, web_answers
from tests.receiver import wait_for

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def entries(log: Path) -> list[dict]:
    """Every line of ``log`` as JSON; fails naming the first line that is not."""
    found = []
    for number, line in enumerate(log.read_text().splitlines(), 1):
        try:
            entry = json.loads(line)
        except ValueError:
            pytest.fail(f"{log.name} line {number} is not JSON: {line!r}")
        assert isinstance(entry, dict), line
        assert {"time", "level", "logger", "message"} <= entry.keys(), line
        assert ISO_UTC.match(entry["time"]), line
        found.append(entry)
    return found


def patch_camera(port: int, camera_id: str, token: str) -> tuple[int, str | None]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/cameras/{camera_id}", method="PATCH",
        data=json.dumps({"name": "Lobby"}).encode(),
        headers={"Authorization": f"token {token}", "Content-Type": "application/json",
                 "X-Request-ID": "abc"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.headers["X-Request-ID"]


@pytest.mark.django_db(transaction=True)
def test_web_worker_and_beat_write_json_lines_and_the_delivery_carries_its_ids(
    tmp_path, receiver, endpoint_for, camera, acme_admin, token_for
):
    endpoint = endpoint_for(receiver.url, ["camera.updated"])
    token = token_for(acme_admin)
    json_logs = {"LOG_FORMAT": "json", "CALLBACK_SWEEP_INTERVAL": "0.5"}
    worker_log, web_log = tmp_path / "worker.log", tmp_path / "web.log"
    worker = start_worker(worker_log, tmp_path / "beat", **json_logs)
    port = free_port()
    web = start_web(web_log, port, **json_logs)
    try:
        wait_for(lambda: web_answers(port), timeout=60, what="gunicorn")
        assert patch_camera(port, camera.camera_id, token) == (200, "abc")
        wait_for(lambda: Delivery.objects.filter(state="succeeded").exists(), timeout=60,
                 what="the camera change delivered")
        delivery = Delivery.objects.get()
        wait_for(lambda: str(delivery.pk) in worker_log.read_text(), timeout=30,
                 what="the delivery's log line")
        wait_for(lambda: "Scheduler: Sending due task" in worker_log.read_text(), timeout=30,
                 what="a line of beat's")
        web_lines, worker_lines = entries(web_log), entries(worker_log)
    finally:
        kill_group(web, signal.SIGTERM)
        kill_group(worker, signal.SIGTERM)

    mine = [e for e in worker_lines if e.get("delivery_id") == str(delivery.pk)]
    assert mine, worker_lines
    assert mine[0]["event_id"] == str(delivery.event_id)
    assert mine[0]["endpoint_id"] == endpoint.endpoint_id
    assert mine[0]["domain"] == "acme.com"
    assert (mine[0]["outcome"], mine[0]["status"], mine[0]["attempt"]) == ("succeeded", 200, 1)
    assert mine[0]["request_id"] == "abc"
    assert [e["request_id"] for e in web_lines if e.get("method") == "PATCH"] == ["abc"]
    assert {"celery.beat", "celery.apps.worker"} <= {e["logger"] for e in worker_lines}
    access = [e for e in web_lines if e["logger"] == "gunicorn.access"]
    assert {"method": "PATCH", "path": f"/api/cameras/{camera.camera_id}", "status": 200}.items(
    ) <= next(e for e in access if e["method"] == "PATCH").items()
    assert any(e["logger"] == "gunicorn.error" and "Booting worker" in e["message"]
               for e in web_lines)


def record(**extra: object) -> logging.LogRecord:
    entry = logging.LogRecord("callbacks.x", logging.WARNING, __file__, 1, "sent %s", ("it",),
                              None)
    entry.__dict__.update(extra)
    return entry


def test_the_json_formatter_writes_extras_as_fields_and_one_line_per_record():
    try:
        raise ValueError("bad\nvery bad")
    except ValueError:
        failing = record(delivery_id="d-1", attempt=2)
        failing.exc_info = sys.exc_info()
    line = JsonFormatter().format(failing)
    assert "\n" not in line
    entry = json.loads(line)
    assert ISO_UTC.match(entry["time"])
    assert (entry["level"], entry["logger"], entry["message"]) == ("WARNING", "callbacks.x",
                                                                  "sent it")
    assert (entry["delivery_id"], entry["attempt"]) == ("d-1", 2)
    assert entry["exception"].startswith("Traceback") and "very bad" in entry["exception"]
    assert "args" not in entry and "exc_info" not in entry


def test_the_text_formatter_writes_utc_iso_times_without_a_space_inside():
    formatter = TextFormatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    line = formatter.format(record())
    stamp, rest = line.split(" ", 1)
    assert ISO_UTC.match(stamp), line
    assert rest == "WARNING callbacks.x sent it"
