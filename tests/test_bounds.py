"""P21 (6): every field has a bound, refused with a 422 naming it (nothing stored), and an
oversized body gets 413 with one WARNING line, no traceback."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from incidents.models import CounterReport
from pacs.models import PacsEvent

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("pacs_labels")]
ONGUARD = json.loads((Path(__file__).parent / "fixtures" / "pacs" / "onguard.json").read_text())[
    "event"]
GENERIC = {"device_id": "door-1", "timestamp": "2026-11-26T12:00:00Z", "event_type": "opened"}


def refused_fields(answer) -> list[str]:
    assert answer.status_code == 422, answer.content
    return [field for item in answer.json()["rejected"] for field in item["errors"]]


def test_a_megabyte_label_and_too_many_labels_are_refused(acme_admin, client_with):
    from pacs.services import integration_create, integration_token_issue

    generic = integration_create(owner=acme_admin, vendor="generic", name="Generic")
    client = client_with(integration_token_issue(integration=generic, actor=None)[1], "Bearer")
    for labels in (["x" * 1_000_000], [f"l{n}" for n in range(21)], [""]):
        answer = client.post("/pacs/webhooks", {"event": {**GENERIC, "labels": labels}})
        assert refused_fields(answer) == ["labels"]
    assert client.post("/pacs/webhooks", {"event": {**GENERIC, "labels": ["a", "b"]}}
                       ).status_code == 202
    assert PacsEvent.objects.count() == 1


@pytest.mark.parametrize("field", ["event_type", "event_subtype"])
@pytest.mark.parametrize("value", [2**70, -1])
def test_an_onguard_code_out_of_range_is_refused(pacs_client, integration, field, value):
    answer = pacs_client.post("/pacs/webhooks", {"event": {**ONGUARD, field: value}})
    assert refused_fields(answer) == [field]
    assert not PacsEvent.objects.exists()


def test_a_report_from_2999_is_refused_naming_the_time(box, camera, box_client, settings):
    for when in ("2999-01-01T00:00:00Z", "1999-12-31T23:59:59Z"):
        answer = box_client.post(f"/api/devices/{box.device_id}/counters",
                                 {"time": when, "box": {"upload_queue_length": 3}})
        assert refused_fields(answer) == ["time"]
    assert not CounterReport.objects.exists()


@pytest.mark.parametrize("route", ["counters", "pacs", "api"])
def test_a_10_mb_body_gets_413_and_one_warning_line(
    route, box, box_client, pacs_client, api, caplog
):
    body = b'{"reports": [' + b" " * (10 * 1024 * 1024) + b"]}"
    url, client = {"counters": (f"/api/devices/{box.device_id}/counters", box_client),
                   "pacs": ("/pacs/webhooks", pacs_client),
                   "api": ("/api/endpoints", api)}[route]
    with caplog.at_level(logging.INFO):
        answer = client.generic("POST", url, body, content_type="application/json")
    assert answer.status_code == 413
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 1, [(r.name, r.levelname, r.getMessage()) for r in lines]
    assert lines[0].levelname == "WARNING" and not lines[0].exc_info
