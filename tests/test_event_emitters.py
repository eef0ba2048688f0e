"""Acceptance 1: every inventory and hook change delivers its event, shaped like the
hand-written fixture; unsubscribed and disabled endpoints get nothing; a rolled-back
change sends nothing."""

from __future__ import annotations

import json

import pytest
from django.db import transaction

from callbacks.delivery import sweeper
from callbacks.models import Delivery, Event
from domains import services
from domains.models import Camera, Device, User
from tests.receiver import Receiver, wait_for
from tests.support.events import expected


def bodies(receiver: Receiver, event_type: str) -> list[dict]:
    found = [json.loads(r.body) for r in receiver.received]
    return [b for b in found if b["type"] == event_type]


def received_types(receiver: Receiver) -> list[str]:
    return sorted(json.loads(r.body)["type"] for r in receiver.received)


@pytest.mark.django_db(transaction=True)
def test_camera_lifecycle(worker, receiver, endpoint_for, box, acme_admin, other_receivers):
    endpoint_for(receiver.url)
    camera = services.camera_create(
        owner=acme_admin,
        device=box,
        name="Back Door",
        ip_address="192.168.1.31",
        local_camera_id="AABBCC001122.1",
        mac_address="00:40:8c:aa:bb:01",
        maker="Axis",
        model="M3106",
    )
    services.camera_update(
        camera=camera,
        actor=acme_admin,
        changes={"name": "Loading Dock", "ip_address": "192.168.1.32"},
    )
    services.camera_update(camera=camera, actor=acme_admin, changes={"name": "Loading Dock"})
    services.camera_delete(camera=camera, actor=acme_admin)
    wait_for(lambda: len(receiver.received) >= 3, what="three camera events")
    ids = {"camera_id": camera.camera_id, "device_id": box.device_id, "user_id": acme_admin.user_id}
    for event_type in ("camera.created", "camera.updated", "camera.deleted"):
        [body] = bodies(receiver, event_type)
        assert body == expected(event_type, event_id=body["id"], **ids)
    sweeper.sweep()
    assert len(receiver.received) == 3  # the no-op update sent nothing
    zones_only, disabled = other_receivers
    assert zones_only.received == [] and disabled.received == []


@pytest.mark.django_db(transaction=True)
def test_zone_lifecycle(worker, receiver, endpoint_for, camera, acme_admin, other_receivers):
    endpoint_for(receiver.url)
    zones_only, disabled = other_receivers
    zone = services.zone_create(camera=camera, name="Doorway", polygons=[[[0, 0], [1, 0], [1, 1]]])
    services.zone_update(zone=zone, actor=acme_admin, changes={"name": "Front door"})
    services.zone_delete(zone=zone, actor=acme_admin)
    wait_for(
        lambda: len(receiver.received) >= 3 and len(zones_only.received) >= 3,
        what="zone events at both subscribed endpoints",
    )
    ids = {"zone_id": zone.zone_id, "camera_id": camera.camera_id, "user_id": acme_admin.user_id}
    for event_type in ("zone.created", "zone.updated", "zone.deleted"):
        [body] = bodies(receiver, event_type)
        assert body == expected(event_type, event_id=body["id"], **ids)
        [same] = bodies(zones_only, event_type)
        assert same == body
    assert disabled.received == []


@pytest.mark.django_db(transaction=True)
def test_box_deleted_in_admin_sends_six_events(
    worker, receiver, endpoint_for, client, support, box, acme_admin
):
    endpoint_for(receiver.url)
    for index in range(2):
        camera = services.camera_create(owner=acme_admin, device=box, name=f"Cam {index}")
        for zone_index in range(index + 1):
            services.zone_create(
                camera=camera, name=f"Z{zone_index}", polygons=[[[0, 0], [1, 0], [1, 1]]]
            )
    wait_for(lambda: len(receiver.received) == 5, what="creation events")
    receiver.received.clear()
    client.force_login(support)
    answer = client.post(
        "/admin/domains/device/",
        {"action": "delete_selected", "_selected_action": [box.pk], "post": "yes"},
    )
    assert answer.status_code == 302
    wait_for(lambda: len(receiver.received) >= 6, what="six deletion events")
    assert (
        received_types(receiver)
        == ["camera.deleted"] * 2 + ["device.deleted"] + ["zone.deleted"] * 3
    )
    [device_body] = bodies(receiver, "device.deleted")
    assert device_body == expected(
        "device.deleted",
        event_id=device_body["id"],
        device_id=box.device_id,
        user_id=acme_admin.user_id,
    )
    assert not Device.objects.exists() and not Camera.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_hook_lifecycle(worker, receiver, endpoint_for, acme_teammate, other_receivers):
    endpoint_for(receiver.url, ["hook.created", "hook.deleted"])
    hook = services.hook_create(
        owner=acme_teammate,
        callback_url="https://hooks.acme.com/camio",
        type="query_match",
        parsed_query="camera == 'Front Entrance' and labels in ['person', 'car']",
    )
    services.hook_delete(hook=hook, actor=acme_teammate)
    wait_for(lambda: len(receiver.received) >= 2, what="hook events")
    for event_type in ("hook.created", "hook.deleted"):
        [body] = bodies(receiver, event_type)
        assert body == expected(
            event_type, event_id=body["id"], hook_id=hook.hook_id, user_id=acme_teammate.user_id
        )


@pytest.mark.django_db(transaction=True)
def test_rolled_back_change_sends_nothing(worker, receiver, endpoint_for, box, acme_admin):
    endpoint_for(receiver.url, ["camera.created"])
    with pytest.raises(RuntimeError), transaction.atomic():
        services.camera_create(owner=acme_admin, device=box, name="Ghost")
        raise RuntimeError("roll back")
    assert not Event.objects.exists()
    services.camera_create(owner=acme_admin, device=box, name="Real")
    wait_for(lambda: receiver.received, what="the committed change")
    sweeper.sweep()
    assert Delivery.objects.count() == 1
    assert [json.loads(r.body)["data"]["object"]["camera"]["name"] for r in receiver.received] == [
        "Real"
    ]


@pytest.mark.django_db
def test_user_is_the_owner_not_the_actor(
    endpoint_for, box, acme_admin, support, django_capture_on_commit_callbacks
):
    endpoint_for("https://receiver.example.com/hook", ["camera.created"])
    with django_capture_on_commit_callbacks(execute=False):
        camera = services.camera_create(owner=acme_admin, device=box, name="Cam", actor=support)
    body = json.loads(bytes(Event.objects.get().body))
    assert body["data"]["object"]["user"] == {"user_id": acme_admin.user_id, "email": "hq@acme.com"}
    assert body["data"]["object"]["camera"]["camera_id"] == camera.camera_id
    assert isinstance(User.objects.get(pk=support.pk), User)
