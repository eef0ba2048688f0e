"""Test events are unmistakable (P13): the envelope says ``"test": true`` where a real
event has no ``test`` key at all, every id of a test event starts with ``test_``, and no
real object may take such an id. (What a test event holds, type by type:
tests/test_endpoint_services.py; one delivered through a worker: test_domain_pages.py.)"""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError

from callbacks import catalog
from callbacks.models import Event
from domains import services

pytestmark = pytest.mark.django_db


def test_a_real_event_has_no_test_key(
    acme_admin, box, endpoint_for, django_capture_on_commit_callbacks
):
    endpoint_for("https://hooks.acme.com/in", ["camera.created"])
    with django_capture_on_commit_callbacks(execute=False):
        camera = services.camera_create(owner=acme_admin, device=box, name="Real")
    event = Event.objects.get()
    body = json.loads(bytes(event.body))
    assert sorted(body) == ["data", "id", "type"] and not event.test
    assert body["data"]["object"]["camera"]["camera_id"] == camera.camera_id


def test_the_envelope_schema_takes_the_mark_only_as_true():
    entry = catalog.get("camera.created")
    check = Draft202012Validator(entry.envelope_schema()).validate
    envelope = {"data": {"object": entry.example}, "type": entry.name,
                "id": "f58a5ef2-fbc7-407b-bdeb-536bfde767da"}
    check(envelope)
    check({**envelope, "test": True})
    with pytest.raises(SchemaError):
        check({**envelope, "test": False})


def test_the_openapi_webhooks_document_the_mark(api):
    schema = api.get("/api/schema/?format=json").json()
    for name in catalog.NAMES:
        post = schema["webhooks"][name]["post"]
        body = post["requestBody"]["content"]["application/json"]["schema"]
        assert body["properties"]["test"] == catalog.TEST_MARK
        assert "test" not in body["required"]
        headers = {p["name"]: p for p in post["parameters"]}
        assert headers["camio-test"]["required"] is False
        assert headers["webhook-id"]["required"] is True


@pytest.mark.parametrize("taken", ["test_box", "TEST_Box", "Test_1"])
def test_no_box_or_camera_may_take_a_test_id(api, acme_admin, box, taken):
    # The API's schema states the rule (not: ^test_), so the API answers 400.
    device = api.post("/api/devices", {"name": "Side Box", "device_id": taken})
    assert device.status_code == 400 and "device_id" in device.json()["errors"], device.json()
    camera = api.post("/api/cameras",
                      {"name": "Side", "device_id": box.device_id, "camera_id": taken})
    assert camera.status_code == 400 and "camera_id" in camera.json()["errors"], camera.json()
    with pytest.raises(ValidationError, match="kept for test events"):
        services.camera_create(owner=acme_admin, device=box, name="Side", camera_id=taken)
    # An id that only contains the word is anybody's.
    assert api.post("/api/devices", {"name": "Side Box", "device_id": "box_test_1"}).status_code \
        == 201
