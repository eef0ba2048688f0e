"""WSGI entry point (gunicorn camio_portal.wsgi).

Django reads a request body up to its ``Content-Length``; a body sent with
``Transfer-Encoding: chunked`` has none and would read as empty. ``read_chunked``
reads such a body (gunicorn de-chunks ``wsgi.input``) up to one byte over
``DATA_UPLOAD_MAX_MEMORY_SIZE`` and states its length, so every route sees the
body, and a body over a route's limit still gets that route's 413.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any

from django.core.wsgi import get_wsgi_application

from camio_portal.env import use_default_settings

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def read_chunked(app: WSGIApp, limit: Callable[[], int]) -> WSGIApp:
    """Wrap ``app`` so chunked request bodies arrive with a ``Content-Length``."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        encoding = environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if "chunked" in encoding and not environ.get("CONTENT_LENGTH"):
            stream = environ["wsgi.input"]
            body = bytearray()
            cap = limit() + 1
            while len(body) < cap:
                piece = stream.read(min(65_536, cap - len(body)))
                if not piece:
                    break
                body += piece
            environ["wsgi.input"] = io.BytesIO(bytes(body))
            environ["CONTENT_LENGTH"] = str(len(body))
        return app(environ, start_response)

    return wrapped


def _upload_limit() -> int:
    from django.conf import settings

    return int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0)


use_default_settings()
application = read_chunked(get_wsgi_application(), _upload_limit)
