"""A database outage answers 503 with Retry-After, never 500.

While the database cannot be reached (the connection refused, dropped or timed
out), API and gateway routes (``/api/``, ``/pacs/``) answer 503 with the one JSON
error body and ``Retry-After``; pages answer a plain 503 page. The outage is
logged once per interval, not once per request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeGuard

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader

log = logging.getLogger(__name__)

LOG_INTERVAL = 60.0
_lock = threading.Lock()
_last_logged = float("-inf")
_suppressed = 0

def is_outage(exc: BaseException | None) -> TypeGuard[OperationalError | InterfaceError]:
    """Whether ``exc`` says the database cannot be reached (PostgreSQL reports a bad query
    as ProgrammingError or DataError, never as these)."""
    return isinstance(exc, OperationalError | InterfaceError)


def _log(exc: BaseException, request: HttpRequest) -> None:
    global _last_logged, _suppressed
    now = time.monotonic()
    with _lock:
        if now - _last_logged < LOG_INTERVAL:
            _suppressed += 1
            return
        suppressed, _suppressed, _last_logged = _suppressed, 0, now
    log.error(
        "database unavailable (%s: %s) answering %s %s with 503%s",
        type(exc).__name__,
        str(exc).strip().splitlines()[0] if str(exc).strip() else "",
        request.method,
        request.path,
        f"; {suppressed} more 503s since the last line" if suppressed else "",
    )


def outage_response(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """The 503 for ``request`` while the database is unavailable."""
    _log(exc, request)
    seconds = settings.OUTAGE_RETRY_AFTER
    message = f"The database is unavailable; nothing was saved. Retry after {seconds} s."
    response: HttpResponse
    if request.path.startswith(("/api/", "/pacs/")):
        response = JsonResponse({"errors": {"detail": [message]}}, status=503)
    else:
        html = loader.render_to_string(
            "503.html",
            {"message": message, "seconds": seconds, "SUPPORT_EMAIL": settings.SUPPORT_EMAIL},
        )
        response = HttpResponse(html, status=503)
    response["Retry-After"] = str(seconds)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseOutageMiddleware:
    """Turn a database outage raised by a view into the 503 above."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> Any:
        if is_outage(exception):
            return outage_response(request, exception)
        return None
