"""Openpath / Avigilon Alta (assumed shape, from public material): ``entryId`` is the
door, ``timestamp`` the time (epoch seconds or ISO 8601), the event name such as
``entry.unlocked`` or ``entry.forcedOpen`` the code, ``id`` the event's id."""

from __future__ import annotations

import re

from pacs.vendors.base import Normalized, Normalizer, event_id, parse_time, text


class Openpath(Normalizer):
    vendor = "openpath"
    default_labels = {
        "entry.unlocked": "entry.unlocked",
        "entry.forcedOpen": "entry.forced.open",
        "entry.heldOpen": "entry.ajar.started",
        "entry.accessDenied": "access.denied",
        "entry.accessGranted": "access.granted",
    }

    def normalize(self, raw: dict, tz: str) -> Normalized:
        name = text(raw.get("eventType") or raw.get("event"), "eventType")
        return Normalized(
            entry_id=text(raw.get("entryId"), "entryId"),
            occurred_at=parse_time(raw.get("timestamp"), tz, "timestamp"),
            code=name,
            fallback_label=re.sub(r"(?<=[a-z])([A-Z])", lambda m: "." + m[1].lower(), name),
            vendor_event_id=event_id(raw.get("id") or None, "id"),
        )
