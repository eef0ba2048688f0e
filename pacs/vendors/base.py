"""The normalizer interface: from a vendor's raw event, the door (entry id), the time,
the event code and the vendor's own id for the event."""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass
from typing import Any, ClassVar

from django.utils.dateparse import parse_datetime

from domains.formats import camio_date


class NormalizeError(ValueError):
    """A field the event cannot do without is missing or unreadable."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass
class Normalized:
    entry_id: str
    occurred_at: datetime.datetime  # aware, UTC
    code: str  # looked up in the vendor's label map
    fallback_label: str  # the label when the map has no entry for the code
    vendor_event_id: str = ""  # the vendor's id for this event, when it has one
    extra_labels: tuple[str, ...] = ()


def parse_time(value: Any, tz: str, field: str) -> datetime.datetime:
    """Read an ISO 8601 string (no offset: the integration's zone) or epoch seconds/ms."""
    if isinstance(value, bool) or value is None:
        raise NormalizeError(field, f"{field} is missing.")
    try:
        if isinstance(value, int | float):
            seconds = value / 1000 if value > 1e11 else value  # epoch ms or seconds
            return datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
        moment = parse_datetime(str(value).strip())
        if moment is None:
            raise ValueError
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zoneinfo.ZoneInfo(tz))
        return moment.astimezone(datetime.UTC)
    except (ValueError, OverflowError, OSError):
        raise NormalizeError(field, f"{value!r} is not a time (ISO 8601 or epoch).") from None


# Each raw field's own limit, refused above it (never cut): a door id, an event code and
# an OnGuard controller id (MAX_TEXT); the vendor's own event id (MAX_EVENT_ID, which is
# also the stored column's size); an OnGuard serial_number (MAX_SERIAL), so that an OnGuard
# id "<controller_id>:<serial_number>" (at most 128 + 1 + 64) fits the column too.
MAX_TEXT = 128
MAX_EVENT_ID = 255
MAX_SERIAL = 64
# Extra labels an event may carry (generic): at most this many, each at most MAX_TEXT.
MAX_LABELS = 20
# A vendor's integer codes (OnGuard's event_type and event_subtype): non-negative 32-bit.
MAX_CODE = 2**31 - 1


def code(value: Any, field: str) -> int:
    """Read a vendor's integer event code (0 to MAX_CODE)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise NormalizeError(field, f"{field} is an integer.")
    if not 0 <= value <= MAX_CODE:
        raise NormalizeError(field, f"{field} must be 0 to {MAX_CODE}.")
    return value


def labels(value: Any, field: str) -> tuple[str, ...]:
    """Read a list of extra labels: at most MAX_LABELS strings of 1 to MAX_TEXT characters."""
    found = value or []
    if not isinstance(found, list) or not all(isinstance(x, str) for x in found):
        raise NormalizeError(field, f"{field} is a list of strings.")
    if len(found) > MAX_LABELS:
        raise NormalizeError(field, f"{field} has {len(found)} labels: at most {MAX_LABELS}.")
    if any(not x.strip() or len(x) > MAX_TEXT for x in found):
        raise NormalizeError(field, f"Each of {field} has 1 to {MAX_TEXT} characters.")
    return tuple(found)


def text(value: Any, field: str) -> str:
    if value is None or value == "" or isinstance(value, bool | dict | list):
        raise NormalizeError(field, f"{field} is missing.")
    result = str(value).strip()
    if not result or len(result) > MAX_TEXT:
        raise NormalizeError(field, f"{field} must be 1 to {MAX_TEXT} characters.")
    return result


def event_id(value: Any, field: str, limit: int = MAX_EVENT_ID) -> str:
    """Read the vendor's own id for an event, whole: "" when there is none (null or "")."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise NormalizeError(field, f"{field} is a string or an integer.")
    result = str(value)
    if len(result) > limit:
        raise NormalizeError(field, f"{field} has {len(result)} characters: at most {limit}.")
    return result


def dig(raw: dict, *path: str) -> Any:
    value: Any = raw
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def camio_labels(
    vendor: str, label: str, occurred_at: datetime.datetime, extra: tuple[str, ...] = ()
) -> list[str]:
    """``["<vendor>:<label>:<date>", "<label>", "integration:<vendor>", *extra]``."""
    return [f"{vendor}:{label}:{camio_date(occurred_at)}", label, f"integration:{vendor}", *extra]


class Normalizer:
    vendor: ClassVar[str]
    default_labels: ClassVar[dict[str, str]] = {}

    def normalize(self, raw: dict, tz: str) -> Normalized:
        raise NotImplementedError
