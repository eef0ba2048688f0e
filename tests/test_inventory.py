"""Boxes, cameras and zones through their services: validation, domain copy, deletion order."""

import pytest
from django.core.exceptions import ValidationError
from django.db.models import ProtectedError

from domains import services
from domains.models import AuditEntry, Camera, Device, Zone


def counts():
    return (
        Device.objects.count(),
        Camera.objects.count(),
        Zone.objects.count(),
        AuditEntry.objects.count(),
    )


@pytest.mark.django_db
def test_inventory_takes_the_owners_domain(acme, box, camera, zone):
    assert box.domain == camera.domain == zone.domain == acme
    assert box.mac_address == "AA:BB:CC:00:11:22"
    assert len(camera.camera_id) == 24 and not camera.camera_id.isdigit()
    assert list(Camera.objects.for_domain(acme)) == [camera]


@pytest.mark.django_db
@pytest.mark.parametrize("mac", ["AA:BB:CC", "GG:BB:CC:DD:EE:FF", "AA:BB-CC:DD:EE:FF", "1234"])
def test_malformed_mac_is_refused(acme_admin, mac):
    before = counts()
    with pytest.raises(ValidationError) as caught:
        services.device_create(owner=acme_admin, name="Box", mac_address=mac)
    assert "is not a MAC address" in caught.value.message_dict["mac_address"][0]
    assert counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize("mac", ["aa-bb-cc-dd-ee-ff", "AABBCCDDEEFF", "aa:bb:cc:dd:ee:ff"])
def test_mac_spellings_are_normalized(acme_admin, mac):
    device = services.device_create(owner=acme_admin, name="Box", mac_address=mac)
    assert device.mac_address == "AA:BB:CC:DD:EE:FF"


@pytest.mark.django_db
def test_malformed_ip_and_local_id_are_refused(box, acme_admin):
    before = counts()
    with pytest.raises(ValidationError) as caught:
        services.camera_create(
            owner=acme_admin, device=box, name="Cam", ip_address="300.1.1.1", local_camera_id="nope"
        )
    errors = caught.value.message_dict
    assert "Enter a valid IPv4 or IPv6 address." in errors["ip_address"]
    assert "is not a local camera id" in errors["local_camera_id"][0]
    assert counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("polygons", "message"),
    [
        ([], "non-empty list of polygons"),
        ("square", "non-empty list of polygons"),
        ([[[0, 0], [1, 1]]], "Polygon 1 must be a list of at least 3"),
        ([[[0, 0], [1, 0], [1, 1]], [[0, 0], [1, "x"], [1, 1]]], "Polygon 2, point 2"),
        ([[[0, 0], [1, 0], [True, 1]]], "Polygon 1, point 3"),
    ],
)
def test_invalid_polygons_are_refused(camera, polygons, message):
    before = counts()
    with pytest.raises(ValidationError) as caught:
        services.zone_create(camera=camera, name="Bad", polygons=polygons)
    assert message in caught.value.message_dict["polygons"][0]
    assert counts() == before


@pytest.mark.django_db
def test_owner_outside_a_registered_domain_is_refused(db):
    loner = services.user_create(email="someone@gmail.com")
    with pytest.raises(ValidationError) as caught:
        services.device_create(owner=loner, name="Box")
    assert "not a user of a registered domain" in caught.value.message_dict["owner"][0]
    assert not Device.objects.exists()


@pytest.mark.django_db
def test_camera_cannot_sit_on_another_domains_box(box, beta_admin):
    with pytest.raises(ValidationError) as caught:
        services.camera_create(owner=beta_admin, device=box, name="Intruder")
    assert "another domain" in caught.value.message_dict["device"][0]


@pytest.mark.django_db
def test_update_writes_only_real_changes(camera, acme_admin):
    audit_before = AuditEntry.objects.count()
    services.camera_update(
        camera=camera,
        actor=acme_admin,
        changes={"name": "Front Entrance", "ip_address": "192.168.1.20"},
    )
    assert AuditEntry.objects.count() == audit_before
    services.camera_update(camera=camera, actor=acme_admin, changes={"name": "Main Door"})
    entry = AuditEntry.objects.filter(action="camera.updated").get()
    assert entry.before == {"name": "Front Entrance"} and entry.after == {"name": "Main Door"}
    assert entry.actor == acme_admin and entry.object_id == camera.camera_id


@pytest.mark.django_db
def test_update_refuses_fields_that_cannot_change(camera, acme_admin):
    with pytest.raises(ValidationError) as caught:
        services.camera_update(camera=camera, actor=acme_admin, changes={"domain": None})
    assert "cannot be changed" in caught.value.message_dict["domain"][0]


@pytest.mark.django_db
def test_deleting_a_box_deletes_zones_then_cameras_then_the_box(box, camera, zone, acme_admin):
    services.device_delete(device=box, actor=acme_admin)
    assert counts()[:3] == (0, 0, 0)
    actions = list(
        AuditEntry.objects.filter(action__endswith=".deleted")
        .order_by("id")
        .values_list("action", "object_id")
    )
    assert actions == [
        ("zone.deleted", zone.zone_id),
        ("camera.deleted", camera.camera_id),
        ("device.deleted", box.device_id),
    ]


@pytest.mark.django_db
def test_deleting_a_box_behind_the_services_back_is_refused(box, camera, zone):
    with pytest.raises(ProtectedError, match="referenced through protected foreign keys"):
        Device.objects.filter(pk=box.pk).delete()
    with pytest.raises(ProtectedError):
        Camera.objects.filter(pk=camera.pk).delete()
    assert counts()[:3] == (1, 1, 1)
