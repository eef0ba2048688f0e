"""Every request's id and trace context (callbacks/tracing.py).

An ``X-Request-ID`` the client sent (1 to 128 of letters, digits and ``._:@+=/-``) is
kept, any other is replaced by a new one; the answer carries it back as ``X-Request-ID``.
While the request runs it is on every log line (``request_id``), on Sentry's events (a
tag), in the tasks it queues and on the events it publishes, with the W3C trace context
the request came with (``traceparent``, ``tracestate``), or a new trace. With
OpenTelemetry on, the request is a SERVER span, the parent of what it publishes.
"""

from __future__ import annotations

from collections.abc import Callable

import sentry_sdk
from django.http import HttpRequest, HttpResponse

from callbacks import tracing
from camio_portal.http_metrics import route_of


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = (tracing.sane_request_id(request.headers.get("X-Request-ID"))
                      or tracing.new_request_id())
        parent, state = request.headers.get("traceparent", ""), request.headers.get(
            "tracestate", "")
        if not tracing.parse_traceparent(parent):
            # No trace came with it: a new one (OpenTelemetry starts its own).
            parent, state = ("", "") if tracing.enabled() else (tracing.fresh_traceparent(), "")
        if len(state) > tracing.TRACESTATE_MAX:
            state = ""  # more than an event keeps: none, rather than a cut member
        if sentry_sdk.is_initialized():
            sentry_sdk.set_tag("request_id", request_id)
        with tracing.working_for(request_id, parent, state), \
                tracing.incoming_span(request.method or "", parent, state) as span:
            response = self.get_response(request)
            if span is not None:
                span.update_name(f"{request.method} {route_of(request)}")
                span.set_attribute("http.response.status_code", response.status_code)
                span.set_attribute("camio.request_id", request_id)
        response["X-Request-ID"] = request_id
        return response
