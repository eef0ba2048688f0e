"""Lenel OnGuard: the door is ``<controller_id>_<device_id>``; the code is
``<event_type>/<event_subtype>``; times carry no offset (the integration's zone); the
event's id is ``<controller_id>:<serial_number>`` (a controller numbers its events)."""

from __future__ import annotations

from pacs.vendors.base import (
    MAX_SERIAL,
    Normalized,
    NormalizeError,
    Normalizer,
    code,
    event_id,
    parse_time,
    text,
)


class OnGuard(Normalizer):
    vendor = "onguard"
    default_labels = {
        "4/10": "entry.ajar.started",
        "4/11": "entry.ajar.ended",
        "4/7": "entry.forced.open",
        "0/0": "access.granted",
        "1/0": "access.denied",
    }

    def normalize(self, raw: dict, tz: str) -> Normalized:
        controller = text(raw.get("controller_id"), "controller_id")
        device = text(raw.get("device_id"), "device_id")
        kind = code(raw.get("event_type"), "event_type")
        subtype = code(raw.get("event_subtype", 0), "event_subtype")
        serial = event_id(raw.get("serial_number"), "serial_number", MAX_SERIAL)
        entry_id = f"{controller}_{device}"
        if len(entry_id) > 128:
            raise NormalizeError("device_id", "controller_id and device_id are too long.")
        return Normalized(
            entry_id=entry_id,
            occurred_at=parse_time(raw.get("timestamp"), tz, "timestamp"),
            code=f"{kind}/{subtype}",
            fallback_label=f"event.{kind}.{subtype}",
            vendor_event_id=f"{controller}:{serial}" if serial else "",
        )
