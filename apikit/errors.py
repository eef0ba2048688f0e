"""The one error format (DESIGN.md section 9): ``{"errors": {"<field>": ["<message>"]}}``.

A request the schema forbids is refused by the input serializers (DRF's ValidationError):
400. A well-formed one that a service or a lookup refuses (Django's ValidationError: an
unknown owner, a taken id, a rule) answers 422."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

NON_FIELD = "non_field_errors"


class Unprocessable(exceptions.ValidationError):
    """Well-formed, but refused by a rule (a service's or a model's ValidationError)."""

    status_code = 422
    default_code = "unprocessable"


def error_map(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """Flatten DRF error details into ``{"field": [messages]}`` (nested: ``a.b``, ``a.0``)."""
    items: Iterable[tuple[Any, Any]]
    if isinstance(detail, dict):
        items = detail.items()
    elif isinstance(detail, list) and any(isinstance(item, dict | list) for item in detail):
        items = ((index, item) for index, item in enumerate(detail) if item)
    elif isinstance(detail, list):
        return {prefix or NON_FIELD: [str(item) for item in detail]}
    else:
        return {prefix or "detail": [str(detail)]}
    out: dict[str, list[str]] = {}
    for key, value in items:
        name = NON_FIELD if key in ("__all__", NON_FIELD) else str(key)
        for field, messages in error_map(value, f"{prefix}.{name}" if prefix else name).items():
            out.setdefault(field, []).extend(messages)
    return out


def _as_drf(exc: Exception) -> Exception:
    if isinstance(exc, DjangoValidationError):
        return Unprocessable(as_serializer_error(exc))
    if isinstance(exc, Http404):
        return exceptions.NotFound(str(exc) or "Nothing here.")
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied(str(exc) or None)
    return exc


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Answer every API error in the one format; unexpected errors stay 500s."""
    exc = _as_drf(exc)
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    detail = exc.detail
    if isinstance(exc, exceptions.ValidationError):
        errors = error_map(detail)
    else:
        errors = {"detail": [str(detail)]}
    response.data = {"errors": errors or {"detail": ["Invalid request."]}}
    return response


def api_or_page(page_view: Any, status: int, message: str) -> Any:
    """Wrap Django's error page so ``/api/`` paths answer in the one JSON format."""
    from django.http import JsonResponse

    def view(request: Any, *args: Any, **kwargs: Any) -> Any:
        if request.path.startswith(("/api/", "/pacs/")):
            return JsonResponse({"errors": {"detail": [message]}}, status=status)
        return page_view(request, *args, **kwargs)

    return view


def not_found(request: Any, exception: Exception | None = None) -> Any:
    from django.views.defaults import page_not_found

    return api_or_page(page_not_found, 404, "Nothing here.")(request, exception)


def bad_request(request: Any, exception: Exception | None = None) -> Any:
    from django.core.exceptions import RequestDataTooBig
    from django.views.defaults import bad_request as page

    if isinstance(exception, RequestDataTooBig):
        return api_or_page(page, 413, "The request body is too large.")(request, exception)
    return api_or_page(page, 400, "Bad request.")(request, exception)


def server_error(request: Any) -> Any:
    """The 500 answer; a database outage raised outside a view still answers 503."""
    import sys

    from django.views.defaults import server_error as page

    from domains.outage import is_outage, outage_response

    exc = sys.exc_info()[1]
    if is_outage(exc):
        return outage_response(request, exc)
    return api_or_page(page, 500, "Server error; it was logged.")(request)
