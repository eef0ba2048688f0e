"""Chat endpoints: a Slack- or Teams-style incoming webhook gets a short text message,
``{"text": "..."}``, instead of the callback's envelope (docs/callbacks.md, "Chat
endpoints"). One formatter for every event type; the operational events say what a person
on call needs, the others name the event and its object.

A chat URL is a bearer credential: ``shown_url`` is all of it any page, answer, log or
audit entry may show (scheme and host; the path masked).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

MASK = "••••••"


def shown_url(url: str) -> str:
    """A chat URL as it may be shown: its scheme and host, the path (the credential) masked."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return f"{parts.scheme}://{host}/{MASK}"


def _endpoint(obj: dict[str, Any]) -> str:
    endpoint = obj.get("endpoint") or {}
    name = endpoint.get("description") or endpoint.get("url") or endpoint.get("endpoint_id")
    return f"{name} ({endpoint.get('domain', '')})"


def _named(obj: dict[str, Any]) -> str:
    for key in ("camera", "zone", "device", "hook"):
        if isinstance(obj.get(key), dict):
            return f"{key} {obj[key].get('name') or obj[key].get(key + '_id', '')}".strip()
    if isinstance(obj.get("incident"), dict):
        return f"incident on camera {obj['incident'].get('camera_name', '')}".strip()
    if isinstance(obj.get("events"), list):
        return f"{len(obj['events'])} door event(s)"
    return ""


def text(event_type: str, obj: dict[str, Any], test: bool = False) -> str:
    """The message for an event of ``event_type`` whose object is ``obj``."""
    where = _endpoint(obj)
    if event_type == "endpoint.failing":
        why = ("its circuit opened" if obj.get("trigger") == "circuit_opened"
               else f"{obj.get('consecutive_failures')} attempts in a row failed")
        message = (f"Callbacks failing: endpoint {where}: {why} (last error: "
                   f"{obj.get('last_error') or 'none'}). Deliveries are retried.")
    elif event_type == "endpoint.recovered":
        message = f"Callbacks recovered: endpoint {where} answers again."
    elif event_type == "endpoint.disabled":
        message = (f"Endpoint disabled: {where}: {obj.get('detail')} "
                   f"{obj.get('cancelled_deliveries', 0)} pending deliveries cancelled.")
    elif event_type == "delivery.exhausted":
        message = (f"Deliveries failed for good: {obj.get('count')} to endpoint {where} "
                   f"since {obj.get('since')}; they can be replayed.")
    else:
        named = _named(obj)
        message = f"{event_type}{': ' + named if named else ''}"
    return f"[test] {message}" if test else message


def body(envelope: bytes) -> bytes:
    """The chat message for a callback's envelope, as the request's JSON body."""
    parsed = json.loads(envelope)
    message = text(parsed["type"], parsed["data"]["object"], bool(parsed.get("test")))
    return json.dumps({"text": message}, ensure_ascii=False).encode()
