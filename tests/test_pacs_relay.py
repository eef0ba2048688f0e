"""PACS events over HTTP with a real worker: unmapped doors are relayed in batches of at
most N per integration, shaped like the seed's; mapped ones stay with their camera."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pacs.models import EventState, PacsDevice, PacsEvent
from tests.receiver import wait_for

pytestmark = pytest.mark.usefixtures("pacs_labels")

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "pacs" / "onguard.json").read_text())
SEED_OBJECT = {
    "user": {"user_id": "u123", "email": "test@acme.com"},
    "domain": "acme.com",
    "events": [
        {
            **FIXTURE["event"],
            "camio_metadata": {
                k: v for k, v in FIXTURE["expected_metadata"].items() if k != "source_server"
            },
        }
    ],
    "source_server": "apac.int.acme.com:443",
}


def same_shape(seed, ours, path="") -> list[str]:
    if isinstance(seed, dict):
        if not isinstance(ours, dict):
            return [f"{path}: not an object"]
        return [
            p
            for k in seed
            for p in (
                [f"{path}.{k}: missing"]
                if k not in ours
                else same_shape(seed[k], ours[k], f"{path}.{k}")
            )
        ]
    if isinstance(seed, list):
        if not isinstance(ours, list) or len(ours) != len(seed):
            return [f"{path}: not a list of {len(seed)}"]
        return [p for i, s in enumerate(seed) for p in same_shape(s, ours[i], f"{path}.{i}")]
    if type(seed) is not type(ours):
        return [f"{path}: {type(ours).__name__} where the seed has {type(seed).__name__}"]
    return []


def bodies(receiver) -> list[dict]:
    return [json.loads(r.body) for r in receiver.received]


@pytest.mark.django_db(transaction=True)
def test_the_seeds_onguard_event_is_relayed_like_the_seed(
    worker, receiver, endpoint_for, pacs_client, integration, acme_admin, settings
):
    settings.PACS_FLUSH_DELAY_MS = 200
    endpoint_for(receiver.url, ["pacs.events.created"])
    pacs_client.post(
        "/pacs/devices", {"devices": [{"device_id": "1_1", "device_name": "Rooftop Reader 1"}]}
    )
    answer = pacs_client.post("/pacs/webhooks", {"event": FIXTURE["event"]})
    assert answer.status_code == 202 and answer.json()["accepted"] == [0], answer.json()
    wait_for(lambda: receiver.received, timeout=30, what="pacs.events.created")
    [body] = bodies(receiver)
    assert body["type"] == "pacs.events.created"
    obj = body["data"]["object"]
    assert same_shape(SEED_OBJECT, obj) == []
    assert obj["source_server"] == "apac.int.acme.com:443" and obj["domain"] == "acme.com"
    assert obj["user"] == {"user_id": acme_admin.user_id, "email": "hq@acme.com"}
    [event] = obj["events"]
    assert {k: v for k, v in event.items() if k != "camio_metadata"} == FIXTURE["event"]
    metadata = event["camio_metadata"]
    assert metadata["entry_id"] == "1_1" and metadata["date"] == "2021-01-29T01:14:33.000-0000"
    assert metadata["labels"] == FIXTURE["expected_metadata"]["labels"]
    stored = PacsEvent.objects.get()
    assert stored.state == EventState.RELAYED and str(stored.event_id) == body["id"]


@pytest.mark.django_db(transaction=True)
def test_a_mapped_readers_event_stays_with_its_camera(
    worker, receiver, endpoint_for, pacs_client, integration, camera, settings
):
    settings.PACS_FLUSH_DELAY_MS = 100
    endpoint_for(receiver.url, ["pacs.events.created"])
    pacs_client.post("/pacs/devices", {"devices": [{"device_id": "1_1"}]})
    PacsDevice.objects.get(device_id="1_1").cameras.set([camera])
    assert pacs_client.post("/pacs/webhooks", {"event": FIXTURE["event"]}).status_code == 202
    stored = PacsEvent.objects.get()
    assert stored.state == EventState.MAPPED and list(stored.cameras.all()) == [camera]
    # An unmapped one after it is relayed: the mapped one never is.
    other = {**FIXTURE["event"], "device_id": 2, "serial_number": 1}
    pacs_client.post("/pacs/webhooks", {"event": other})
    wait_for(lambda: receiver.received, timeout=30, what="the unmapped event's callback")
    [body] = bodies(receiver)
    assert [e["camio_metadata"]["entry_id"] for e in body["data"]["object"]["events"]] == ["1_2"]
    assert PacsEvent.objects.get(entry_id="1_1").state == EventState.MAPPED


@pytest.mark.django_db(transaction=True)
def test_a_thousand_events_arrive_in_batches_of_at_most_n_each_once(
    worker, receiver, endpoint_for, pacs_client, integration, settings
):
    settings.PACS_BATCH_SIZE = 50
    settings.PACS_FLUSH_DELAY_MS = 300
    endpoint_for(receiver.url, ["pacs.events.created"])
    events = [
        {**FIXTURE["event"], "device_id": 100 + i % 7, "serial_number": 5000 + i}
        for i in range(1000)
    ]
    for start in range(0, 1000, 250):
        answer = pacs_client.post("/pacs/webhooks", {"events": events[start : start + 250]})
        assert len(answer.json()["accepted"]) == 250

    def serials() -> list[int]:
        return [e["serial_number"] for b in bodies(receiver) for e in b["data"]["object"]["events"]]

    wait_for(lambda: len(serials()) >= 1000, timeout=60, what="1,000 relayed events")
    sizes = [len(b["data"]["object"]["events"]) for b in bodies(receiver)]
    assert len(sizes) >= 20 and max(sizes) <= 50, sizes
    assert sorted(serials()) == list(range(5000, 6000))  # each exactly once
    assert not PacsEvent.objects.filter(state=EventState.PENDING).exists()


@pytest.mark.django_db(transaction=True)
def test_a_flush_keeps_its_batch_size_under_a_nested_loop_plan(
    integration, settings, django_capture_on_commit_callbacks
):
    """P9 (5): with statistics analysed over 5,000 pending events, the claim stays bounded."""
    from django.db import connection

    from callbacks.models import Event
    from pacs.services import flush, ingest_events
    from tests.support.postgres import NESTED_LOOP

    events = [{**FIXTURE["event"], "serial_number": n} for n in range(5000)]
    with django_capture_on_commit_callbacks(execute=False):  # no flush scheduled: done here
        result = ingest_events(integration=integration, events=events)
    assert len(result.accepted) == 5000
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE pacs_pacsevent")
        for setting in NESTED_LOOP:
            cursor.execute(f"SET {setting} = off")
    try:
        with django_capture_on_commit_callbacks(execute=False):
            assert flush(integration.integration_id) == 5000
    finally:
        with connection.cursor() as cursor:
            for setting in NESTED_LOOP:
                cursor.execute(f"RESET {setting}")
    sizes = [len(json.loads(bytes(body))["data"]["object"]["events"])
             for body in Event.objects.filter(type="pacs.events.created").values_list("body",
                                                                                        flat=True)]
    assert sizes == [settings.PACS_BATCH_SIZE] * (5000 // settings.PACS_BATCH_SIZE)
    assert PacsEvent.objects.filter(state=EventState.PENDING).count() == 0
