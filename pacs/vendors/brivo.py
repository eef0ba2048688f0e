"""Brivo (assumed shape, from public material): ``eventObject.id`` is the door, the
occurrence time ``occurred``, the ``eventType`` the code, ``actor`` who did it, ``id``
the event's id."""

from __future__ import annotations

from pacs.vendors.base import Normalized, Normalizer, dig, event_id, parse_time, text


class Brivo(Normalizer):
    vendor = "brivo"
    default_labels = {
        "DOOR_AJAR": "entry.ajar.started",
        "DOOR_AJAR_CLEARED": "entry.ajar.ended",
        "DOOR_FORCED_OPEN": "entry.forced.open",
        "ACCESS_GRANTED": "access.granted",
        "ACCESS_DENIED": "access.denied",
    }

    def normalize(self, raw: dict, tz: str) -> Normalized:
        kind = text(raw.get("eventType"), "eventType")
        return Normalized(
            entry_id=text(dig(raw, "eventObject", "id"), "eventObject.id"),
            occurred_at=parse_time(raw.get("occurred"), tz, "occurred"),
            code=kind,
            fallback_label=kind.lower().replace("_", "."),
            vendor_event_id=event_id(raw.get("id") or None, "id"),
        )
