"""/pacs/devices and /pacs/webhooks: tokens, device lists, bad events named, good ones
kept, caps, duplicates; the sweeper relays what a lost task left pending."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from callbacks.models import Event
from pacs import services
from pacs.models import EventState, PacsDevice, PacsEvent

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("pacs_labels")]
EVENT = json.loads((Path(__file__).parent / "fixtures" / "pacs" / "onguard.json").read_text())[
    "event"
]


def test_a_new_device_list_replaces_the_old_but_keeps_mapped_devices(
    pacs_client, integration, camera
):
    first = [
        {"device_id": "1_1", "device_name": "Rooftop Reader 1"},
        {"device_id": "1_2", "device_name": "Lobby Reader"},
        {"device_id": "1_3", "device_name": "Dock Reader"},
    ]
    assert pacs_client.post("/pacs/devices", {"devices": first}).json()["devices"] == 3
    PacsDevice.objects.get(device_id="1_2").cameras.set([camera])
    answer = pacs_client.post(
        "/pacs/devices",
        {
            "devices": [
                {"device_id": "1_1", "device_name": "Rooftop Reader One"},
                {"device_id": "2_1", "device_name": "Garage Reader"},
            ]
        },
    )
    assert answer.status_code == 200
    assert answer.json() == {"devices": 2, "removed": 1, "kept_mapped": ["1_2"]}
    names = dict(PacsDevice.objects.values_list("device_id", "device_name"))
    assert names == {"1_1": "Rooftop Reader One", "1_2": "Lobby Reader", "2_1": "Garage Reader"}


def test_a_bad_device_list_changes_nothing(pacs_client, integration):
    pacs_client.post("/pacs/devices", {"devices": [{"device_id": "1_1"}]})
    answer = pacs_client.post("/pacs/devices", {"devices": [{"device_id": ""}, {"x": 1}]})
    assert answer.status_code == 400
    assert set(answer.json()["errors"]) == {"devices.0.device_id", "devices.1.device_id"}
    assert list(PacsDevice.objects.values_list("device_id", flat=True)) == ["1_1"]


def test_some_bad_events_are_named_and_the_good_ones_kept(pacs_client, integration):
    events = [
        {**EVENT, "serial_number": 1},
        {k: v for k, v in EVENT.items() if k != "device_id"},
        {**EVENT, "serial_number": 3, "timestamp": "the day before yesterday"},
        "not an object",
        {**EVENT, "serial_number": 5},
    ]
    answer = pacs_client.post("/pacs/webhooks", {"events": events})
    assert answer.status_code == 202
    body = answer.json()
    assert body["accepted"] == [0, 4]
    assert [(r["index"], sorted(r["errors"])) for r in body["rejected"]] == [
        (1, ["device_id"]),
        (2, ["timestamp"]),
        (3, ["event"]),
    ]
    assert PacsEvent.objects.filter(state=EventState.PENDING).count() == 2


def test_all_bad_is_a_422_with_the_batch_body(pacs_client, integration):
    """Well-formed, every event judged and refused: 422 (the body is no malformed request)."""
    answer = pacs_client.post("/pacs/webhooks", {"events": [{"nothing": 1}]})
    assert answer.status_code == 422 and answer.json()["rejected"][0]["index"] == 0
    assert not PacsEvent.objects.exists()


@pytest.mark.parametrize(
    "body", [{}, {"evnts": []}, {"events": []}, {"events": "x"}, [EVENT], "x"]
)
def test_a_body_without_events_is_a_400(pacs_client, integration, body):
    answer = pacs_client.post("/pacs/webhooks", body, format="json")
    assert answer.status_code == 400 and "events" in answer.json()["errors"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": [EVENT], "source": "gateway"}, "source"),
        ({"event": EVENT, "events": [EVENT]}, "event"),
    ],
)
def test_a_field_beside_the_events_is_a_400(pacs_client, integration, body, field):
    answer = pacs_client.post("/pacs/webhooks", body, format="json")
    assert answer.status_code == 400 and set(answer.json()["errors"]) == {field}
    assert not PacsEvent.objects.exists()


def test_a_device_list_the_schema_forbids_is_a_400(pacs_client, integration):
    for body, field in [
        ({"devices": [{"device_id": "1_1", "floor": 3}]}, "devices.0.floor"),
        ({"devices": [{"device_id": True}]}, "devices.0.device_id"),
        ({"devices": [{"device_id": "1_1"}], "site": "HQ"}, "site"),
    ]:
        answer = pacs_client.post("/pacs/devices", body, format="json")
        assert answer.status_code == 400 and set(answer.json()["errors"]) == {field}, body
    answer = pacs_client.post("/pacs/devices", {"devices": [{"device_id": 11}]}, format="json")
    assert answer.status_code == 200  # vendors send integer ids too
    assert list(PacsDevice.objects.values_list("device_id", flat=True)) == ["11"]


def test_a_body_that_is_not_json_is_a_400(pacs_client, integration):
    answer = pacs_client.generic("POST", "/pacs/webhooks", "{", content_type="application/json")
    assert answer.status_code == 400 and "JSON" in answer.json()["errors"]["detail"][0]


def test_oversize_batches_answer_413(pacs_client, integration, settings):
    answer = pacs_client.post("/pacs/webhooks", {"events": [EVENT] * 5001})
    assert answer.status_code == 413
    settings.PACS_MAX_BODY_BYTES = 50
    assert pacs_client.post("/pacs/webhooks", {"event": EVENT}).status_code == 413
    assert not PacsEvent.objects.exists()


def test_the_gateway_throttle_counts_events_not_only_requests(pacs_client, integration,
                                                              settings):
    """P21 (3): 5 events a minute: 3 pass, 3 more are refused whole (429 naming the limit),
    2 more still fit."""
    from django.core.cache import cache

    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "pacs_events": "5/minute"}
    cache.clear()
    serial = iter(range(100, 200))
    answers = [pacs_client.post("/pacs/webhooks", {"events": [
        {**EVENT, "serial_number": next(serial)} for _ in range(n)]}) for n in (3, 3, 2)]
    assert [a.status_code for a in answers] == [202, 429, 202]
    assert int(answers[1].headers["Retry-After"]) > 0
    assert "at most 5 per minute (API_THROTTLE_PACS_EVENTS)" in (
        answers[1].json()["errors"]["detail"][0])
    assert PacsEvent.objects.count() == 5
    cache.clear()


def test_the_same_event_twice_is_a_duplicate(pacs_client, integration):
    assert pacs_client.post("/pacs/webhooks", {"event": EVENT}).json()["accepted"] == [0]
    again = pacs_client.post("/pacs/webhooks", {"events": [EVENT, EVENT]})
    assert again.status_code == 202 and again.json()["duplicates"] == [0, 1]
    assert PacsEvent.objects.count() == 1


def test_tokens(integration, client_with, token_for, acme_admin, box):
    url = "/pacs/webhooks"
    assert client_with(None).post(url, {"event": EVENT}).status_code == 401
    assert client_with("cpp_wrong", "Bearer").post(url, {"event": EVENT}).status_code == 401
    user = client_with(token_for(acme_admin)).post(url, {"event": EVENT})
    assert user.status_code == 403
    box_token = client_with(token_for(kind="box", device=box), "Bearer").post(url, {"event": EVENT})
    assert box_token.status_code == 403
    _, raw_old = services.integration_token_issue(integration=integration, actor=None)
    _, raw_new = services.integration_token_rotate(integration=integration, actor=None)
    assert client_with(raw_old, "Bearer").post(url, {"event": EVENT}).status_code == 401
    assert client_with(raw_new, "Bearer").post(url, {"event": EVENT}).status_code == 202
    assert PacsEvent.objects.count() == 1


def test_the_sweeper_relays_what_no_task_did(integration, settings):
    settings.PACS_FLUSH_DELAY_MS = 0
    services.ingest_events(integration=integration, events=[EVENT])
    assert services.sweep_pending() == 1
    event = Event.objects.get(type="pacs.events.created")
    assert PacsEvent.objects.get().event_id == event.id
    assert services.sweep_pending() == 0
