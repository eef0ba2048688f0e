"""OpenAPI: every operation documents the one error format for its error answers."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema

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
    "400": "Invalid input: the errors name each field.",
    "401": "No credentials, or an unknown or revoked token.",
    "403": "The wrong kind of token, or a caller without the role this route needs.",
    "404": "Nothing here, or it belongs to another domain.",
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
    """drf-spectacular's schema plus the error answers every route can give."""

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        responses = operation.setdefault("responses", {})
        for status, description in ERRORS.items():
            responses.setdefault(status, _error_response(status, description))
        return operation


def add_error_schema(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook: define the ``Error`` component the operations refer to."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    return result


WEBHOOK_HEADERS = [
    ("webhook-id", "The event's id: the same on every retry; drop duplicates by it."),
    ("webhook-timestamp", "Unix seconds when this attempt was signed."),
    ("webhook-signature", "v1,<base64 HMAC-SHA256>, space-separated during a rotation."),
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
                    "required": True,
                    "description": text,
                    "schema": {"type": "string"},
                }
                for name, text in WEBHOOK_HEADERS
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
