"""Generic JSON: ``device_id``, ``timestamp`` (ISO 8601 or epoch ms), ``event_type``,
optional ``event_id``, ``actor_id``, ``actor_name``, ``actor_email`` and ``labels``
(extra labels, appended)."""

from __future__ import annotations

from pacs.vendors.base import Normalized, Normalizer, event_id, labels, parse_time, text


class Generic(Normalizer):
    vendor = "generic"

    def normalize(self, raw: dict, tz: str) -> Normalized:
        kind = text(raw.get("event_type"), "event_type")
        extra = labels(raw.get("labels"), "labels")
        return Normalized(
            entry_id=text(raw.get("device_id"), "device_id"),
            occurred_at=parse_time(raw.get("timestamp"), tz, "timestamp"),
            code=kind,
            fallback_label=kind,
            vendor_event_id=event_id(raw.get("event_id") or None, "event_id"),
            extra_labels=extra,
        )
