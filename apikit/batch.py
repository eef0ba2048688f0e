"""What the batch-ingest routes share (DESIGN.md section 9): the batch answer, its
schema, the 413 for oversize requests, and throttles keyed by the calling device."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.request import Request
from rest_framework.response import Response

from apikit.throttling import CountedThrottle


class TooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request is too large."


def check_size(request: Request, limit: int) -> None:
    """Answer 413 before reading a body larger than ``limit`` bytes."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise ParseError("Content-Length is not a number.") from None
    if length > limit:
        raise TooLarge(f"At most {limit} bytes per request.")


class Rejected(serializers.Serializer):
    index = serializers.IntegerField()
    # A declared field, which DRF's serializer metaclass takes off the class (Serializer.errors
    # stays as it is); the stubs see it as replacing that property.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField())
    )


class BatchAnswer(serializers.Serializer):
    accepted = serializers.ListField(child=serializers.IntegerField())
    duplicates = serializers.ListField(child=serializers.IntegerField())
    rejected = Rejected(many=True)


class Errors(serializers.Serializer):
    # A declared field, which DRF's serializer metaclass takes off the class (Serializer.errors
    # stays as it is); the stubs see it as replacing that property.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField())
    )


BAD_BATCH = PolymorphicProxySerializer(
    component_name="BatchAnswerOrErrors",
    serializers=[BatchAnswer, Errors],
    resource_type_field_name=None,
)
ALL_REFUSED = "Every item was refused (the batch answer names each one's fields)."


def batch_responses(bad_body: str, too_big: str) -> dict[int, OpenApiResponse]:
    """The four answers of a batch route, for its schema: 202 with the batch answer; 400
    (``bad_body``); 413 (``too_big``); 422 when every item was refused."""
    return {
        202: OpenApiResponse(BatchAnswer, "Stored; accepted, duplicates, rejected by index."),
        400: OpenApiResponse(Errors, bad_body),
        413: OpenApiResponse(Errors, too_big),
        422: OpenApiResponse(BAD_BATCH, ALL_REFUSED),
    }


def batch_response(answer: dict[str, Any]) -> Response:
    """202 when anything was stored or was already there; 422 when every item was refused
    (the request was well-formed: each item was judged alone)."""
    stored = answer["accepted"] or answer["duplicates"]
    return Response(answer, status=status.HTTP_202_ACCEPTED if stored else 422)


def items(data: Any, *, many: str, one: str | None, limit: int, bare: bool = False) -> list:
    """The list under ``many`` (or the lone item under ``one``, or the object itself when
    ``bare``); 400 for any other body or another field beside them, 413 above ``limit``."""
    keys = data if isinstance(data, dict) else {}
    wrapper = next((key for key in (many, one) if key and key in keys), None)
    if wrapper is not None:
        extra = sorted(set(data) - {wrapper})
        if extra:
            raise serializers.ValidationError(
                {name: [f"Unknown field beside {wrapper!r}."] for name in extra[:10]}
            )
        found = data[wrapper] if wrapper == many else [data[wrapper]]
    else:
        found = [data] if bare and isinstance(data, dict) else None
    if not isinstance(found, list) or not found:
        lone = f'{{"{one}": {{...}}}} or ' if one else "an object, or "
        raise serializers.ValidationError(
            {many: [f'Send {lone}{{"{many}": [...]}} with at least one.']}
        )
    if len(found) > limit:
        raise TooLarge(f"At most {limit} {many} per request.")
    return found


def token_throttle(scope: str, ident: Callable[[Any], Any]) -> type[CountedThrottle]:
    """A throttle per calling device (a Box, a PACS integration), rate from settings."""

    class Throttle(CountedThrottle):
        def get_cache_key(self, request: Request, view: Any) -> str | None:
            return self.cache_format % {"scope": scope, "ident": ident(request.auth)}

    Throttle.scope = scope
    Throttle.__name__ = f"{scope.title()}Throttle"
    return Throttle
