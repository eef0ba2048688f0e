"""The ``data.object`` of each inventory and hook event (catalog: callbacks.catalog)."""

from __future__ import annotations

from typing import Any

from domains.models import Camera, Device, Hook, User, Zone


def user(owner: User) -> dict[str, str]:
    return {"user_id": owner.user_id, "email": owner.email}


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


def camera(camera: Camera) -> dict[str, Any]:
    return {"camera": camera_fields(camera), "user": user(camera.owner)}


def camera_updated(after: Camera, previous: dict[str, Any]) -> dict[str, Any]:
    """Return camera.updated's object; ``previous`` holds old payload values that changed."""
    return {**camera(after), "previous_attributes": previous}


def zone_fields(zone: Zone) -> dict[str, Any]:
    return {"zone_id": zone.zone_id, "name": zone.name, "polygons": zone.polygons}


def zone(zone: Zone) -> dict[str, Any]:
    cam = zone.camera
    return {
        "zone": zone_fields(zone),
        "camera": {"camera_id": cam.camera_id, "name": cam.name, "ip_address": cam.ip_address},
        "user": user(cam.owner),
    }


def device(device: Device) -> dict[str, Any]:
    return {
        "device": {
            "device_id": device.device_id,
            "name": device.name,
            "mac_address": device.mac_address,
        },
        "user": user(device.owner),
    }


def hook(hook: Hook) -> dict[str, Any]:
    return {
        "hook": {
            "hook_id": hook.hook_id,
            "callback_url": hook.callback_url,
            "type": hook.type,
            "parsed_query": hook.parsed_query,
        },
        "user": user(hook.owner),
    }
