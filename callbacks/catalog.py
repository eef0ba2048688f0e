"""The event catalog: Camio's 11 types and the portal's 5 operational ones, what emits them,
their JSON Schema and an example.

The portal's pages, the API (GET /api/event-types, the OpenAPI webhooks), the
docs and the tests read this one module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EventType:
    name: str
    description: str
    emitted_by: str
    object_schema: dict[str, Any]
    example: dict[str, Any]
    # What a ``per_key`` endpoint keeps this type in order with (camio-order-key).
    ordered_by: str = ""

    def envelope_schema(self) -> dict[str, Any]:
        """Return the JSON Schema of the whole callback body for this type."""
        return {
            "type": "object",
            "required": ["data", "id", "type"],
            "properties": {
                "data": {
                    "type": "object",
                    "required": ["object"],
                    "properties": {"object": self.object_schema},
                },
                "id": {"type": "string", "format": "uuid"},
                "type": {"const": self.name},
                "test": TEST_MARK,
            },
        }


# The mark of a test event's envelope; a real event has no "test" key at all.
TEST_MARK = {
    "type": "boolean",
    "const": True,
    "description": "Present, and true, only on a test event (sent from an endpoint's Send test, "
    "POST /api/endpoints/{id}/test or send_test_event): its object is the catalog's example, "
    "every id in it starts with test_ (no real object's id does), and nothing really happened. "
    "Real events never carry this key.",
}


def _obj(
    properties: dict[str, Any], required: list[str] | None = None, extra: bool = False
) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required if required is not None else list(properties),
        "additionalProperties": extra,
    }


STRING = {"type": "string"}
NULLABLE_STRING = {"type": ["string", "null"]}
CAMIO_DATE = {
    "type": "string",
    "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}-0000$",
    "description": "UTC with milliseconds, Camio's form: 2021-04-30T19:13:42.317-0000",
}
USER = _obj({"user_id": STRING, "email": STRING})
CAMERA = _obj(
    {
        "camera_id": STRING,
        "local_camera_id": STRING,
        "name": STRING,
        "ip_address": NULLABLE_STRING,
        "mac_address": STRING,
        "device_id": STRING,
        "maker": STRING,
        "model": STRING,
    }
)
POLYGONS = {
    "type": "array",
    "items": {
        "type": "array",
        "minItems": 3,
        "items": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "number"}},
    },
}
ZONE = _obj({"zone_id": STRING, "name": STRING, "polygons": POLYGONS})
ZONE_CAMERA = _obj({"camera_id": STRING, "name": STRING, "ip_address": NULLABLE_STRING})
DEVICE = _obj({"device_id": STRING, "name": STRING, "mac_address": STRING})
HOOK = _obj(
    {
        "hook_id": STRING,
        "callback_url": STRING,
        "type": {"enum": ["query_match", "label_hit", "query_match_ad_hoc"]},
        "parsed_query": STRING,
    }
)
COUNTER_EVENT = _obj({"counter": STRING, "description": STRING, "value": {"type": "number"}})
INCIDENT = _obj(
    {
        "camera_name": STRING,
        "camera_ip": NULLABLE_STRING,
        "camera_id": STRING,
        "device_id": STRING,
        "box_mac_address": STRING,
        "incident_id": STRING,
        "counter_events": {"type": "object", "additionalProperties": COUNTER_EVENT},
        "date": CAMIO_DATE,
        "type": {"const": "incident"},
    },
    required=["counter_events", "date", "type", "incident_id", "device_id"],
)
PACS_EVENT = {
    "type": "object",
    "description": "The vendor's event, unchanged, plus camio_metadata.",
    "required": ["camio_metadata"],
    "properties": {
        "camio_metadata": _obj(
            {
                "entry_id": STRING,
                "date": CAMIO_DATE,
                "labels": {"type": "array", "items": STRING},
                "source_server": STRING,
            },
            required=["entry_id", "date", "labels"],
        )
    },
    "additionalProperties": True,
}

EXAMPLE_USER = {"user_id": "56X126755830642533906524", "email": "hq-cams@acme.com"}
EXAMPLE_CAMERA = {
    "camera_id": "7K2M9Q4R8T1V3X5Z6B0C2D4F",
    "local_camera_id": "B827EB123456.0",
    "name": "Front Entrance",
    "ip_address": "192.168.1.21",
    "mac_address": "00:40:8C:12:34:56",
    "device_id": "4H6J8K0L2M4N6P8Q0R2S4T6V",
    "maker": "Axis",
    "model": "P3245-V",
}
EXAMPLE_ZONE = {
    "zone_id": "9A8B7C6D5E4F3G2H1J0K9L8M",
    "name": "Doorway",
    "polygons": [[[0.1, 0.2], [0.6, 0.2], [0.6, 0.9]]],
}
EXAMPLE_HOOK = {
    "hook_id": "3C5E7G9J1L3N5Q7S9U1W3Y5A",
    "type": "query_match",
    "callback_url": "https://hooks.acme.com/camio",
    "parsed_query": "camera == 'Front Entrance' and labels in ['person']",
}
EXAMPLE_ZONE_CAMERA = {k: EXAMPLE_CAMERA[k] for k in ("camera_id", "name", "ip_address")}


BY_BOX = "box:<device_id> (the camera's Box)"
BY_OWNER = "user:<user_id> (the hook's owner)"


def _camera_types() -> list[EventType]:
    updated_schema = _obj(
        {"camera": CAMERA, "user": USER, "previous_attributes": {"type": "object"}}
    )
    return [
        EventType(
            "camera.created",
            "A camera (video stream) was added to a Box.",
            "camera_create",
            _obj({"camera": CAMERA, "user": USER}),
            {"camera": EXAMPLE_CAMERA, "user": EXAMPLE_USER},
            BY_BOX,
        ),
        EventType(
            "camera.updated",
            "A camera's settings changed; previous_attributes holds the old values "
            "of the fields that changed.",
            "camera_update",
            updated_schema,
            {
                "camera": {**EXAMPLE_CAMERA, "name": "Main Door"},
                "user": EXAMPLE_USER,
                "previous_attributes": {"name": "Front Entrance"},
            },
            BY_BOX,
        ),
        EventType(
            "camera.deleted",
            "A camera was removed.",
            "camera_delete, device_delete",
            _obj({"camera": CAMERA, "user": USER}),
            {"camera": EXAMPLE_CAMERA, "user": EXAMPLE_USER},
            BY_BOX,
        ),
    ]


# --- Operational events: about the domain's own endpoints (callbacks/operational.py) ---

ENDPOINT_REF = _obj(
    {
        "endpoint_id": STRING,
        "url": {"type": "string", "description": "A chat endpoint's shows only its scheme and "
                "host: its path is a credential."},
        "description": STRING,
        "domain": STRING,
    }
)
EXAMPLE_ENDPOINT = {"endpoint_id": "9R4T6V8X0Z2B4D6F8H0J2L4N", "url": "https://alarms.acme.com/camio",
                    "description": "Alarm centre", "domain": "acme.com"}
OPERATIONAL = "the portal (operational: never sent to the endpoint it is about)"


def _operational_types() -> tuple[EventType, ...]:
    count = {"type": "integer", "minimum": 0}
    return (
        EventType(
            "endpoint.failing",
            "One of the domain's endpoints is failing: CALLBACK_FAILING_AFTER attempts in a "
            "row failed, or its circuit opened (trigger says which); one per episode.",
            OPERATIONAL,
            _obj({"endpoint": ENDPOINT_REF,
                  "trigger": {"enum": ["consecutive_failures", "circuit_opened"]},
                  "consecutive_failures": count, "failing_since": CAMIO_DATE,
                  "last_error": STRING, "circuit": {"enum": ["closed", "open", "half-open"]}}),
            {"endpoint": EXAMPLE_ENDPOINT, "trigger": "consecutive_failures",
             "consecutive_failures": 5, "failing_since": "2021-04-30T19:13:42.317-0000",
             "last_error": "HTTP 500", "circuit": "closed"},
            "endpoint:<endpoint_id> (the endpoint it is about)",
        ),
        EventType(
            "endpoint.recovered",
            "An endpoint that was failing answered with success again: the episode that "
            "endpoint.failing opened is closed.",
            OPERATIONAL,
            _obj({"endpoint": ENDPOINT_REF, "recovered_at": CAMIO_DATE}),
            {"endpoint": EXAMPLE_ENDPOINT, "recovered_at": "2021-04-30T19:21:05.004-0000"},
            "endpoint:<endpoint_id> (the endpoint it is about)",
        ),
        EventType(
            "endpoint.disabled",
            "An endpoint was disabled: it answered 410 Gone, every attempt failed for "
            "CALLBACK_DISABLE_AFTER_DAYS, or a person disabled it (reason says which).",
            OPERATIONAL,
            _obj({"endpoint": ENDPOINT_REF, "reason": {"enum": ["gone", "exhausted", "person"]},
                  "detail": STRING, "disabled_by": NULLABLE_STRING,
                  "cancelled_deliveries": count, "disabled_at": CAMIO_DATE}),
            {"endpoint": EXAMPLE_ENDPOINT, "reason": "gone",
             "detail": "The endpoint answered 410 Gone.", "disabled_by": None,
             "cancelled_deliveries": 12, "disabled_at": "2021-04-30T19:13:42.317-0000"},
            "endpoint:<endpoint_id> (the endpoint it is about)",
        ),
        EventType(
            "endpoint.certificate_expiring",
            "An endpoint's client certificate (mTLS) expires within 14 days: upload a new "
            "one before then, or receivers that require it will refuse the callbacks.",
            OPERATIONAL,
            _obj({"endpoint": ENDPOINT_REF, "fingerprint": STRING, "expires_at": CAMIO_DATE}),
            {"endpoint": EXAMPLE_ENDPOINT, "fingerprint": "3A:1F:...:9C",
             "expires_at": "2021-05-14T00:00:00.000-0000"},
            "endpoint:<endpoint_id> (the endpoint it is about)",
        ),
        EventType(
            "delivery.exhausted",
            "Deliveries of an endpoint failed for good (no retry left, or 410): a digest, at "
            "most one per endpoint per OPERATIONAL_DIGEST_SECONDS, with the count and up to "
            "20 delivery ids.",
            OPERATIONAL,
            _obj({"endpoint": ENDPOINT_REF, "count": count,
                  "delivery_ids": {"type": "array", "items": STRING, "maxItems": 20},
                  "since": CAMIO_DATE, "until": CAMIO_DATE}),
            {"endpoint": EXAMPLE_ENDPOINT, "count": 30,
             "delivery_ids": ["0b8f2d1e-4c7a-4e8b-9f3a-2d6c1e7b5a90"],
             "since": "2021-04-30T19:13:42.317-0000", "until": "2021-04-30T19:18:42.317-0000"},
            "endpoint:<endpoint_id> (the endpoint it is about)",
        ),
    )


def _zone_types() -> list[EventType]:
    schema = _obj({"zone": ZONE, "camera": ZONE_CAMERA, "user": USER})
    example = {"zone": EXAMPLE_ZONE, "camera": EXAMPLE_ZONE_CAMERA, "user": EXAMPLE_USER}
    updated_schema = _obj(
        {
            "zone": ZONE,
            "camera": ZONE_CAMERA,
            "user": USER,
            "previous_attributes": {"type": "object"},
        }
    )
    return [
        EventType(
            "zone.created",
            "A zone (named polygons on a camera's view) was added.",
            "zone_create",
            schema,
            example,
            BY_BOX,
        ),
        EventType(
            "zone.updated",
            "A zone was renamed or its polygons changed; previous_attributes holds the old values.",
            "zone_update",
            updated_schema,
            {
                **example,
                "zone": {**EXAMPLE_ZONE, "name": "Front door"},
                "previous_attributes": {"name": "Doorway"},
            },
            BY_BOX,
        ),
        EventType(
            "zone.deleted", "A zone was removed.", "zone_delete, camera_delete", schema, example,
            BY_BOX,
        ),
    ]


EVENT_TYPES: tuple[EventType, ...] = (
    *_camera_types(),
    EventType(
        "device.deleted",
        "A Box was removed; its zones and cameras were deleted in the same transaction, each "
        "with its own event, which per_key endpoints get before this one (others in any order).",
        "device_delete",
        _obj({"device": DEVICE, "user": USER}),
        {
            "device": {
                "device_id": EXAMPLE_CAMERA["device_id"],
                "name": "Lobby Box",
                "mac_address": "B8:27:EB:12:34:56",
            },
            "user": EXAMPLE_USER,
        },
        "box:<device_id>",
    ),
    EventType(
        "hook.created",
        "A user created a hook (a saved video-search subscription).",
        "hook_create",
        _obj({"hook": HOOK, "user": USER}),
        {"hook": EXAMPLE_HOOK, "user": EXAMPLE_USER},
        BY_OWNER,
    ),
    EventType(
        "hook.deleted",
        "A user deleted a hook.",
        "hook_delete",
        _obj({"hook": HOOK, "user": USER}),
        {"hook": EXAMPLE_HOOK, "user": EXAMPLE_USER},
        BY_OWNER,
    ),
    EventType(
        "incident.created",
        "Stream-health counters of a camera or Box crossed their rules: "
        "stream_changed_offline_count, movies_discarded_count, events_purged_count, "
        "movies_purged_count (> 0), segmentation_process_restart_count (> 15 within "
        "15 minutes), upload_queue_length (above the domain's minimum).",
        "counter report evaluation",
        _obj({"incident": INCIDENT, "user": USER}),
        {
            "incident": {
                "camera_name": "Front Entrance",
                "camera_ip": "192.168.1.21",
                "camera_id": EXAMPLE_CAMERA["camera_id"],
                "device_id": EXAMPLE_CAMERA["device_id"],
                "incident_id": "5D7F9H1K3M5P7R9T1V3X5Z7B",
                "counter_events": {
                    "segmentation_process_restart_count": {
                        "counter": "segmentation_process_restart_count",
                        "description": "47 > 15 means the network connection to the video stream "
                        "is unstable: it restarted 47 times in 15 minutes.",
                        "value": 47,
                    }
                },
                "date": "2021-04-30T19:13:42.317-0000",
                "type": "incident",
            },
            "user": EXAMPLE_USER,
        },
        "box:<device_id> (the Box the counters came from)",
    ),
    EventType(
        "pacs.events.created",
        "Door-access (PACS) events arrived for doors or readers that no camera sees; "
        "each vendor event is passed on whole, with camio_metadata added.",
        "PACS relay",
        _obj(
            {
                "user": USER,
                "domain": STRING,
                "events": {"type": "array", "items": PACS_EVENT},
                "source_server": STRING,
            },
            required=["user", "domain", "events"],
        ),
        {
            "user": {"user_id": "u123", "email": "test@acme.com"},
            "domain": "acme.com",
            "events": [
                {
                    "badge_id": 0,
                    "controller_id": 1,
                    "cardholder_key": 0,
                    "event_type": 4,
                    "event_subtype": 10,
                    "device_id": 1,
                    "device_name": "Rooftop Reader 1",
                    "serial_number": 1611881197,
                    "timestamp": "2021-01-29T01:14:33.000000",
                    "camio_metadata": {
                        "entry_id": "1_1",
                        "date": "2021-01-29T01:14:33.000-0000",
                        "labels": [
                            "onguard:entry.ajar.started:2021-01-29T01:14:33.000-0000",
                            "entry.ajar.started",
                            "integration:onguard",
                        ],
                        "source_server": "apac.int.acme.com:443",
                    },
                }
            ],
            "source_server": "apac.int.acme.com:443",
        },
        "pacs:<integration_id> (the PACS integration)",
    ),
    *_zone_types(),
    *_operational_types(),
)
# The types about the portal's own endpoints, not Camio's objects.
OPERATIONAL_NAMES = frozenset(t.name for t in EVENT_TYPES if t.emitted_by == OPERATIONAL)

BY_NAME: dict[str, EventType] = {event_type.name: event_type for event_type in EVENT_TYPES}
NAMES: tuple[str, ...] = tuple(sorted(BY_NAME))


def get(name: str) -> EventType:
    """Return the catalog entry for ``name`` or raise ValueError naming the known types."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise ValueError(f"{name!r} is not an event type; known: {', '.join(NAMES)}.") from None
