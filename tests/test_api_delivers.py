"""Acceptance 4 (and 1's core): API writes deliver their callbacks through a real worker."""

from __future__ import annotations

import json

import pytest

from callbacks.models import Delivery
from tests.receiver import wait_for
from tests.support.events import expected

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_endpoint_made_over_the_api_receives_a_test_event(worker, receiver, api):
    created = api.post(
        "/api/endpoints",
        {"url": receiver.url, "event_types": ["camera.created"], "headers": {"X-Team": "ops"}},
    )
    assert created.status_code == 201, created.json()
    endpoint_id = created.json()["endpoint_id"]
    sent = api.post(
        f"/api/endpoints/{endpoint_id}/test?wait=true", {"event_type": "camera.created"}
    )
    assert sent.status_code == 200, sent.json()
    assert sent.json()["state"] == "succeeded" and sent.json()["status"] == 200
    [request] = receiver.received
    assert request.headers["x-team"] == "ops"
    assert json.loads(request.body)["type"] == "camera.created"
    delivery = Delivery.objects.get(pk=sent.json()["id"])
    assert delivery.test and delivery.endpoint.endpoint_id == endpoint_id


def test_creating_a_camera_over_the_api_delivers_camera_created(
    worker, receiver, api, box, acme_admin
):
    api.post("/api/endpoints", {"url": receiver.url, "event_types": ["camera.created"]})
    response = api.post(
        "/api/cameras",
        {
            "name": "Back Door",
            "device_id": box.device_id,
            "ip_address": "192.168.1.31",
            "local_camera_id": "AABBCC001122.1",
            "mac_address": "00:40:8c:aa:bb:01",
            "maker": "Axis",
            "model": "M3106",
        },
    )
    assert response.status_code == 201, response.json()
    camera_id = response.json()["camera_id"]
    wait_for(lambda: receiver.received, what="camera.created")
    [request] = receiver.received
    body = json.loads(request.body)
    ids = {"camera_id": camera_id, "device_id": box.device_id, "user_id": acme_admin.user_id}
    assert body == expected("camera.created", event_id=body["id"], **ids)


def test_creating_a_hook_over_the_api_delivers_hook_created(
    worker, receiver, api, acme_teammate, token_for, client_with
):
    api.post("/api/endpoints", {"url": receiver.url, "event_types": ["hook.created"]})
    guard = client_with(token_for(acme_teammate), "Bearer")
    response = guard.post(
        "/api/users/me/hooks",
        {
            "callback_url": "https://hooks.acme.com/camio",
            "type": "query_match",
            "parsed_query": "camera == 'Front Entrance' and labels in ['person', 'car']",
        },
    )
    assert response.status_code == 201, response.json()
    hook_id = response.json()["hook_id"]
    wait_for(lambda: receiver.received, what="hook.created")
    body = json.loads(receiver.received[0].body)
    ids = {"hook_id": hook_id, "user_id": acme_teammate.user_id}
    assert body == expected("hook.created", event_id=body["id"], **ids)
