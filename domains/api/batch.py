"""What the batch-ingest routes share (DESIGN.md section 9): the batch answer, its
schema, the 413 for oversize requests, and throttles keyed by the calling device."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import PolymorphicProxySerializer
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.request import Request
from rest_framework.response import Response

from domains.api.throttling import CountedThrottle


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
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class BatchAnswer(serializers.Serializer):
    accepted = serializers.ListField(child=serializers.IntegerField())
    duplicates = serializers.ListField(child=serializers.IntegerField())
    rejected = Rejected(many=True)


class Errors(serializers.Serializer):
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


BAD_BATCH = PolymorphicProxySerializer(
    component_name="BatchAnswerOrErrors",
    serializers=[BatchAnswer, Errors],
    resource_type_field_name=None,
)


def batch_response(answer: dict[str, Any]) -> Response:
    """202 when anything was stored or was already there; 400 when every item was bad."""
    stored = answer["accepted"] or answer["duplicates"]
    return Response(answer, status=status.HTTP_202_ACCEPTED if stored else 400)


def items(data: Any, *, many: str, one: str | None, limit: int, bare: bool = False) -> list:
    """The list under ``many`` (or the lone item under ``one``, or a bare object when
    ``bare``); 400 when there is none, 413 above ``limit``."""
    if isinstance(data, dict) and many in data:
        found = data[many]
    elif isinstance(data, dict) and one is not None and one in data:
        found = [data[one]]
    elif isinstance(data, dict) and bare:
        found = [data]
    else:
        found = data if bare else None
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
