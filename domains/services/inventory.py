"""Boxes (devices), cameras and zones.

Each service publishes its callback event (camera.*, zone.*, device.deleted)
in its own transaction. Deleting goes children first (zones, then cameras,
then the Box), each through its own service, so every object leaves its own
audit entry and event, all in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from callbacks.publishing import publish
from domains.models import (
    AuditEntry,
    Camera,
    Device,
    User,
    Zone,
    relock,
    snapshot,
    snapshot_values,
)
from domains.services.audit import create_and_announce, delete_and_announce

DEVICE_FIELDS = ("device_id", "name", "mac_address", "owner")
CAMERA_FIELDS = (
    "camera_id",
    "local_camera_id",
    "name",
    "ip_address",
    "mac_address",
    "maker",
    "model",
    "device",
    "owner",
)
ZONE_FIELDS = ("zone_id", "name", "polygons", "camera")


# --- The data.object of each inventory event (catalog: callbacks.catalog) ----------


def camera_fields(camera: Camera) -> dict[str, Any]:
    return {
        "camera_id": camera.camera_id,
        "local_camera_id": camera.local_camera_id,
        "name": camera.name,
        "ip_address": camera.ip_address,
        "mac_address": camera.mac_address,
        "device_id": camera.device.device_id,
        "maker": camera.maker,
        "model": camera.model,
    }


def box_key(device: Device) -> str:
    """The order key of every event about a Box, its cameras and their zones."""
    return f"box:{device.device_id}"


def camera_payload(camera: Camera) -> dict[str, Any]:
    return {"camera": camera_fields(camera), "user": camera.owner.as_payload()}


def zone_payload(zone: Zone) -> dict[str, Any]:
    cam = zone.camera
    return {
        "zone": {"zone_id": zone.zone_id, "name": zone.name, "polygons": zone.polygons},
        "camera": {"camera_id": cam.camera_id, "name": cam.name, "ip_address": cam.ip_address},
        "user": cam.owner.as_payload(),
    }


def device_payload(device: Device) -> dict[str, Any]:
    return {
        "device": {
            "device_id": device.device_id,
            "name": device.name,
            "mac_address": device.mac_address,
        },
        "user": device.owner.as_payload(),
    }

DEVICE_EDITABLE = frozenset({"name", "mac_address", "owner"})
CAMERA_EDITABLE = frozenset(
    {"local_camera_id", "name", "ip_address", "mac_address", "maker", "model", "device", "owner"}
)
ZONE_EDITABLE = frozenset({"name", "polygons"})


def _apply(obj: models.Model, changes: Mapping[str, Any], editable: frozenset[str]) -> dict:
    """Set ``changes`` on ``obj``; return the old values of the fields that really changed."""
    unknown = set(changes) - editable
    if unknown:
        raise ValidationError({name: ["This field cannot be changed."] for name in sorted(unknown)})
    before = {}
    for name, value in changes.items():
        old = getattr(obj, name)
        setattr(obj, name, value)
        before[name] = old
    obj.full_clean()
    # Compare cleaned values: "aa-bb-..." and "AA:BB:..." are the same MAC.
    return {name: old for name, old in before.items() if getattr(obj, name) != old}


def _previous(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Return the old values of the payload's fields that changed (previous_attributes).

    The object's own fields (camera or zone) are compared one by one; a new
    owner shows as ``user``.
    """
    kind = "camera" if "camera" in old and "zone" not in old else "zone"
    changed = {k: v for k, v in old[kind].items() if new[kind].get(k) != v}
    if old["user"] != new["user"]:
        changed["user"] = old["user"]
    return changed


def _change(
    obj: Any,
    changes: Mapping[str, Any],
    editable: frozenset[str],
    *,
    actor: User | None,
    payload: Callable[[Any], dict[str, Any]] | None = None,
    order_key: Callable[[], str] = str,
) -> Any:
    """Apply ``changes`` to the locked ``obj``; on a real change save it, audit it as
    ``<model>.updated`` and, given a ``payload`` builder, publish that event with the
    changed fields' old values as ``previous_attributes``. Return ``obj``."""
    old_payload = payload(obj) if payload else None
    previous = _apply(obj, changes, editable)
    if not previous:
        return obj
    obj.updated_at = timezone.now()
    obj.save(update_fields=[*previous, "updated_at"])
    action = f"{obj._meta.model_name}.updated"
    AuditEntry.objects.record(
        actor=actor, action=action, obj=obj, before=snapshot_values(previous),
        after=snapshot(obj, previous),
    )
    if payload is not None and old_payload is not None:
        new_payload = payload(obj)
        publish(
            domain=obj.domain,
            type=action,
            object={**new_payload, "previous_attributes": _previous(old_payload, new_payload)},
            order_key=order_key(),
        )
    return obj


# --- Boxes -----------------------------------------------------------------


@transaction.atomic
def device_create(
    *,
    owner: User,
    name: str,
    mac_address: str = "",
    device_id: str | None = None,
    actor: User | None = None,
) -> Device:
    """Register a Box owned by ``owner`` (a user of a registered domain)."""
    device = Device(
        owner=owner,
        # None for an owner without a domain: full_clean then refuses the owner.
        domain_id=owner.domain_id,  # type: ignore[misc]
        name=name,
        mac_address=mac_address,
    )
    if device_id:
        device.device_id = device_id
    return create_and_announce(obj=device, fields=DEVICE_FIELDS, actor=actor)


@transaction.atomic
def device_update(*, device: Device, actor: User | None, changes: Mapping[str, Any]) -> Device:
    """Change a Box's name, MAC or owner (within its domain)."""
    device = relock(Device.objects.all(), device.pk)
    return _change(device, changes, DEVICE_EDITABLE, actor=actor)


@transaction.atomic
def device_delete(*, device: Device, actor: User | None) -> None:
    """Delete a Box after its cameras (and their zones), each through its service."""
    device = relock(Device.objects.all(), device.pk)
    for camera in device.cameras.all():
        camera_delete(camera=camera, actor=actor)
    delete_and_announce(
        obj=device, fields=DEVICE_FIELDS, actor=actor, payload=device_payload,
        order_key=box_key(device),
    )


# --- Cameras ---------------------------------------------------------------


@transaction.atomic
def camera_create(
    *,
    owner: User,
    device: Device,
    name: str,
    local_camera_id: str = "",
    ip_address: str | None = None,
    mac_address: str = "",
    maker: str = "",
    model: str = "",
    camera_id: str | None = None,
    actor: User | None = None,
) -> Camera:
    """Add a camera (a stream) on ``device``, owned by ``owner``; emits camera.created."""
    camera = Camera(
        owner=owner,
        # None for an owner without a domain: full_clean then refuses the owner.
        domain_id=owner.domain_id,  # type: ignore[misc]
        device=device,
        name=name,
        local_camera_id=local_camera_id,
        ip_address=ip_address or None,
        mac_address=mac_address,
        maker=maker,
        model=model,
    )
    if camera_id:
        camera.camera_id = camera_id
    return create_and_announce(
        obj=camera,
        fields=CAMERA_FIELDS,
        actor=actor,
        payload=camera_payload,
        order_key=box_key(device),
    )


@transaction.atomic
def camera_update(*, camera: Camera, actor: User | None, changes: Mapping[str, Any]) -> Camera:
    """Change a camera; emits camera.updated only when a field really changed."""
    camera = relock(Camera.objects.all(), camera.pk)
    return _change(camera, changes, CAMERA_EDITABLE, actor=actor, payload=camera_payload,
                   order_key=lambda: box_key(camera.device))


@transaction.atomic
def camera_delete(*, camera: Camera, actor: User | None) -> None:
    """Delete a camera after its zones; emits their zone.deleted, then camera.deleted."""
    camera = relock(Camera.objects.all(), camera.pk)
    for zone in camera.zones.all():
        zone_delete(zone=zone, actor=actor)
    delete_and_announce(
        obj=camera, fields=CAMERA_FIELDS, actor=actor, payload=camera_payload,
        order_key=box_key(camera.device),
    )


# --- Zones -----------------------------------------------------------------


@transaction.atomic
def zone_create(*, camera: Camera, name: str, polygons: list, actor: User | None = None) -> Zone:
    """Add a named zone (polygons) to ``camera``; it joins the camera's domain."""
    zone = Zone(camera=camera, domain_id=camera.domain_id, name=name, polygons=polygons)
    return create_and_announce(
        obj=zone,
        fields=ZONE_FIELDS,
        actor=actor,
        payload=zone_payload,
        order_key=box_key(camera.device),
    )


@transaction.atomic
def zone_update(*, zone: Zone, actor: User | None, changes: Mapping[str, Any]) -> Zone:
    """Rename a zone or change its polygons; emits zone.updated on a real change."""
    zone = relock(Zone.objects.all(), zone.pk)
    return _change(zone, changes, ZONE_EDITABLE, actor=actor, payload=zone_payload,
                   order_key=lambda: box_key(zone.camera.device))


@transaction.atomic
def zone_delete(*, zone: Zone, actor: User | None) -> None:
    """Delete a zone; emits zone.deleted."""
    zone = relock(Zone.objects.select_related("camera__owner"), zone.pk)
    delete_and_announce(
        obj=zone, fields=ZONE_FIELDS, actor=actor, payload=zone_payload,
        order_key=box_key(zone.camera.device),
    )
