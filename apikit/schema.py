"""OpenAPI: every operation documents the one error format for its error answers, and
request bodies state what the server refuses (``apikit.fields``)."""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.extensions import (
    OpenApiSerializerExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import Direction, PolymorphicProxySerializer
from rest_framework import serializers

from apikit import fields

ERROR_SCHEMA = {
    "type": "object",
    "required": ["errors"],
    "properties": {
        "errors": {
            "type": "object",
            "description": "Messages per field (`detail`: the whole request).",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        }
    },
}

ERRORS = {
    "400": "The request does not match this schema: the errors name each field.",
    "401": "No credentials, or an unknown or revoked token.",
    "403": "The wrong kind of token, or a caller without the role this route needs.",
    "404": "Nothing here, or it belongs to another domain.",
    "422": "The request matches this schema but a rule refuses it (an unknown owner or "
    "camera, a taken id, a time zone that does not exist, ...): the errors name each field.",
    "429": "Throttled: retry after the Retry-After header's seconds.",
    "503": "The database is unavailable; nothing was saved. Retry after the Retry-After "
    "header's seconds.",
}

RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer", "minimum": 0},
    }
}


def _error_response(status: str, description: str) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if status in ("429", "503"):
        response["headers"] = RETRY_AFTER
    return response


class PortalAutoSchema(AutoSchema):
    """drf-spectacular's schema plus the error answers every route can give; request
    bodies (``fields.Input``) take no other properties, text refuses NUL (and blank where
    the field does), a ``fields.Mapping`` states its keys."""

    def _map_serializer_field(
        self, field: Any, direction: Direction, bypass_extensions: bool = False
    ):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if direction != "request" or not isinstance(schema, dict):
            return schema
        if isinstance(field, fields.Mapping):
            schema["propertyNames"] = {"pattern": fields.ecma(field.key_regex)}
        types = schema.get("type")
        is_text = "string" in (types if isinstance(types, list) else [types])
        # A RegexValidator's pattern is the field's own (drf-spectacular adds it later).
        own_pattern = "pattern" in schema or any(hasattr(v, "regex") for v in field.validators)
        if is_text and isinstance(field, serializers.CharField) and not own_pattern:
            blank_ok = field.allow_blank or not field.trim_whitespace
            schema["pattern"] = fields.ecma(fields.NO_NUL if blank_ok else fields.NOT_BLANK)
        return schema

    def _insert_field_validators(self, field: Any, schema: dict[str, Any]) -> None:
        super()._insert_field_validators(field, schema)
        # drf-spectacular offers "" beside a pattern as oneOf, which fails when the pattern
        # takes "" too (ours do): either will do.
        blank = {"type": "string", "maxLength": 0}
        if schema.get("oneOf", [None])[-1] == blank:
            schema["anyOf"] = schema.pop("oneOf")

    def _get_request_body(self, direction: Direction = "request") -> dict[str, Any] | None:
        body = super()._get_request_body(direction)
        serializer = self.get_request_serializer()
        if body is not None and isinstance(serializer, PolymorphicProxySerializer):
            body["required"] = True  # drf-spectacular cannot tell; ours (batches) all are
        return body

    def _map_basic_serializer(self, serializer: Any, direction: Direction) -> dict[str, Any]:
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and isinstance(serializer, fields.Input):
            schema["additionalProperties"] = False
        return schema

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        responses = operation.setdefault("responses", {})
        for status, description in ERRORS.items():
            responses.setdefault(status, _error_response(status, description))
        return operation


class ItemExtension(OpenApiSerializerFieldExtension):
    """A batch item (``fields.Item``): its shape, or any JSON (rejected by its index)."""

    target_class = "apikit.fields.Item"

    def map_serializer_field(self, auto_schema: AutoSchema, direction: Direction) -> dict[str, Any]:
        shape = auto_schema.resolve_serializer(self.target.shape, direction)
        any_json = auto_schema._map_serializer_field(fields.JsonValue(), direction)
        return {"anyOf": [shape.ref, any_json]}


class LoneItemExtension(OpenApiSerializerExtension):
    """A lone batch item (``fields.LoneItem``): its shape, or an object without the batch's
    key (such an object is judged as one item)."""

    target_class = "apikit.fields.LoneItem"
    match_subclasses = True

    def map_serializer(self, auto_schema: AutoSchema, direction: Direction) -> dict[str, Any]:
        shape = auto_schema.resolve_serializer(self.target.shape, direction)
        any_json = auto_schema._map_serializer_field(fields.JsonValue(), direction)
        other = {
            "type": "object",
            "not": {"required": [self.target.batch_key]},
            "propertyNames": {"pattern": fields.ecma(fields.NO_NUL)},
            "additionalProperties": any_json,
        }
        return {"anyOf": [shape.ref, other]}


def enum_var_name(value: str) -> str:
    """A constant's name for an enum value in generated clients, unique where the values'
    own spellings are not once punctuation goes (Etc/GMT+14 and Etc/GMT-14, GMT0 and
    GMT+0; generators would otherwise stop on the clash)."""
    name = re.sub(r"-(?=[0-9])", "_MINUS_", value).replace("+", "_PLUS_")
    name = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").upper()
    if not name:
        return "BLANK"
    return f"VALUE_{name}" if name[0].isdigit() else name


def name_enum_values(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook: give every string enum ``x-enum-varnames`` (after drf-spectacular
    has gathered the enums into components)."""
    for schema in result.get("components", {}).get("schemas", {}).values():
        values = schema.get("enum")
        if values and all(isinstance(v, str) for v in values if v is not None):
            names: list[str] = []
            for value in values:
                name = base = enum_var_name(value or "")
                while name in names:  # half-open and half_open: a number sets them apart
                    name = f"{base}_{len(names)}"
                names.append(name)
            schema["x-enum-varnames"] = names
    return result


def add_error_schema(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook: define the ``Error`` component the operations refer to."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    return result


WEBHOOK_HEADERS = [
    ("webhook-id", "The event's id: the same on every retry; drop duplicates by it.", True),
    ("webhook-timestamp", "Unix seconds when this attempt was signed.", True),
    ("webhook-signature", "v1,<base64 HMAC-SHA256>, space-separated during a rotation.", True),
    ("camio-test", "true on a test event (whose body also says \"test\": true and whose ids "
     "start with test_); real events never carry it.", False),
]


def _webhook(entry: Any) -> dict[str, Any]:
    example = {"data": {"object": entry.example}, "id": "3b7e1c52-2f7a-4c47-9a55-0c6d1f1f5e21"}
    return {
        "post": {
            "operationId": f"callback_{entry.name.replace('.', '_')}",
            "summary": entry.name,
            "description": f"{entry.description} Emitted by: {entry.emitted_by}.",
            "tags": ["callbacks"],
            "parameters": [
                {
                    "name": name,
                    "in": "header",
                    "required": required,
                    "description": text,
                    "schema": {"type": "string"},
                }
                for name, text, required in WEBHOOK_HEADERS
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": entry.envelope_schema(),
                        "example": {**example, "type": entry.name},
                    }
                },
            },
            "responses": {
                "200": {"description": "Any 2xx acknowledges; 410 disables the endpoint."}
            },
        }
    }


def add_webhooks(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook: list the callbacks the portal sends as OpenAPI 3.1 webhooks."""
    from callbacks import catalog

    result["webhooks"] = {entry.name: _webhook(entry) for entry in catalog.EVENT_TYPES}
    return result
