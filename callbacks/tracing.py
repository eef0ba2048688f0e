"""Request ids and W3C trace context, from the request that caused a change to every
callback it sends.

What a request (or a task) works for is in two context variables: its request id and the
trace context it came with. ``publish`` stores both on each ``Event`` row, because retries
are claimed from the database hours later, not from the request's message; every attempt,
resend and replay then logs the event's request id and sends ``traceparent`` (and
``tracestate``) so a receiver's trace joins the change that caused it, and
``camio-request-id`` (CALLBACK_TRACE_HEADERS turns the three off).

OpenTelemetry is off unless an OTLP endpoint is configured (camio_portal/telemetry.py gives
``use_provider`` a provider): then a request, a publish, a claim and each attempt are
spans, the publish a child of the request, each attempt a child of its event's publish, a
claim linked to the events it took, all carrying ``camio.event_id``. Off, only the API's
no-op types are loaded, and an attempt's ``traceparent`` keeps the event's trace id with a
fresh span id of its own.
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from collections.abc import Iterator, Sequence
from contextvars import ContextVar, Token
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

REQUEST_ID: ContextVar[str] = ContextVar("camio_request_id", default="")
# The trace context a request or task arrived with: (traceparent, tracestate).
INCOMING: ContextVar[tuple[str, str]] = ContextVar("camio_trace", default=("", ""))

_SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+=/-]{0,127}")
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
TRACESTATE_MAX = 512

_tracer: Any = None  # an OpenTelemetry Tracer once configured


# --- request ids and trace context, without OpenTelemetry ----------------------------------

def sane_request_id(value: str | None) -> str:
    """``value`` when it is a usable request id (1 to 128 of letters, digits and
    ``._:@+=/-``, starting with a letter or digit), else ''."""
    return value if value and _SANE_ID.fullmatch(value) else ""


def new_request_id() -> str:
    return uuid.uuid4().hex


def parse_traceparent(value: str | None) -> tuple[str, str, str] | None:
    """(trace id, parent id, flags) of a valid W3C ``traceparent``, else None."""
    match = _TRACEPARENT.fullmatch(value.strip().lower()) if value else None
    if match is None:
        return None
    version, trace_id, parent_id, flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest) or not int(trace_id, 16) \
            or not int(parent_id, 16):
        return None
    return trace_id, parent_id, flags


def traceparent(trace_id: str, span_id: str, flags: str = "01") -> str:
    return f"00-{trace_id}-{span_id}-{flags}"


def fresh_traceparent() -> str:
    """The start of a new trace (sampled), for a change no trace came with."""
    return traceparent(os.urandom(16).hex(), os.urandom(8).hex())


@contextlib.contextmanager
def working_for(request_id: str, parent: str = "", state: str = "") -> Iterator[None]:
    """Run the block for ``request_id`` with the trace context it came with: a valid
    ``parent`` as version 00 (a later version's extra fields dropped), and ``state``
    unless it is longer than an event keeps (then none, rather than a cut member)."""
    found = parse_traceparent(parent)
    tokens: tuple[Token[str], Token[tuple[str, str]]] = (
        REQUEST_ID.set(request_id),
        INCOMING.set((traceparent(*found), state if len(state) <= TRACESTATE_MAX else "")
                     if found else ("", "")),
    )
    try:
        yield
    finally:
        REQUEST_ID.reset(tokens[0])
        INCOMING.reset(tokens[1])


def carried() -> tuple[str, str, str]:
    """(request id, traceparent, tracestate) of the work now: the current span's context
    with OpenTelemetry on (a request's SERVER span, a publish), else the context the work
    came with; what a queued task takes along."""
    if _tracer is not None:
        found = _current_context()
        if found is not None:
            return REQUEST_ID.get(), found[0], found[1]
    parent, state = INCOMING.get()
    return REQUEST_ID.get(), parent, state


def event_context() -> tuple[str, str, str]:
    """(request id, traceparent, tracestate) to store on events published now: the work's
    context (``carried``), else a new trace."""
    request_id, parent, state = carried()
    return request_id, parent or fresh_traceparent(), state


def attempt_headers(parent: str, state: str) -> list[tuple[str, str]]:
    """``traceparent`` (and ``tracestate``) for an attempt of an event stored with
    ``parent``, OpenTelemetry off: the event's trace, a span id of the attempt's own."""
    if len(parent) != 55:  # stored only when valid (publish): version 00, 55 characters
        return []
    headers = [("traceparent", f"00-{parent[3:35]}-{os.urandom(8).hex()}-{parent[53:]}")]
    return [*headers, ("tracestate", state)] if state else headers


# --- OpenTelemetry, when configured ------------------------------------------------------

def use_provider(provider: Any) -> None:
    """Make spans with ``provider`` (an SDK TracerProvider; None turns spans off)."""
    global _tracer
    _tracer = None if provider is None else provider.get_tracer("camio-portal")


def enabled() -> bool:
    return _tracer is not None


def _current_context() -> tuple[str, str] | None:
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    state = context.trace_state.to_header()  # dropped, not cut, when longer than a row keeps
    return (traceparent(f"{context.trace_id:032x}", f"{context.span_id:016x}",
                        f"{context.trace_flags:02x}"), state if len(state) <= TRACESTATE_MAX
            else "")


def _parent(parent: str, state: str) -> Any:
    """An OpenTelemetry Context whose remote parent is ``parent`` (None if not valid)."""
    if not parse_traceparent(parent):
        return None
    carrier = {"traceparent": parent, **({"tracestate": state} if state else {})}
    return TraceContextTextMapPropagator().extract(carrier)


@contextlib.contextmanager
def span(name: str, kind: str = "INTERNAL", parent: str = "", state: str = "",
         attributes: dict[str, Any] | None = None) -> Iterator[Any]:
    """A current span named ``name``: the child of ``parent`` when it is given, else of
    the current span, else of the context the work came with (a task's request); yields
    None when OpenTelemetry is off."""
    if _tracer is None:
        yield None
        return
    if not parent and not trace.get_current_span().get_span_context().is_valid:
        parent, state = INCOMING.get()
    with _tracer.start_as_current_span(name, context=_parent(parent, state) if parent else None,
                                       kind=getattr(SpanKind, kind),
                                       attributes=attributes or {}) as current:
        yield current


def incoming_span(method: str, parent: str, state: str) -> Any:
    """A request's SERVER span, child of the caller's trace context when it sent one."""
    return span(f"HTTP {method}", "SERVER", parent, state, {"http.request.method": method})


def start_attempt(event_id: str, delivery_id: str, attempt: int, parent: str,
                  state: str) -> tuple[Any, list[tuple[str, str]]]:
    """An attempt's CLIENT span, child of its event's publish, and the headers that carry
    it; (None, headers made without OpenTelemetry) when it is off."""
    if _tracer is None:
        return None, attempt_headers(parent, state)
    attempt_span = _tracer.start_span(
        "callback attempt", context=_parent(parent, state), kind=SpanKind.CLIENT,
        attributes={"camio.event_id": event_id, "camio.delivery_id": delivery_id,
                    "camio.attempt": attempt})
    context = attempt_span.get_span_context()
    headers = [("traceparent", traceparent(f"{context.trace_id:032x}",
                                           f"{context.span_id:016x}",
                                           f"{context.trace_flags:02x}"))]
    header_state = context.trace_state.to_header()
    return attempt_span, headers + ([("tracestate", header_state)] if header_state else [])


def end_attempt(attempt_span: Any, status: int | None, error: str) -> None:
    if attempt_span is None:
        return
    if status is not None:
        attempt_span.set_attribute("http.response.status_code", status)
    if error or status is None or status >= 400:
        attempt_span.set_status(Status(StatusCode.ERROR, error or f"HTTP {status}"))
    attempt_span.end()


def record_claim(events: Sequence[tuple[str, str, str]], started_ns: int) -> None:
    """A claim's span (from ``started_ns``, time.time_ns()), linked to the trace of each
    (event id, traceparent, tracestate) it took: a claim serves many changes, so it is
    their link, not their child."""
    if _tracer is None or not events:
        return
    links = []
    for event_id, parent, state in events:
        context = _parent(parent, state)
        if context is not None:
            links.append(Link(trace.get_current_span(context).get_span_context(),
                              {"camio.event_id": event_id}))
    _tracer.start_span("claim", links=links, start_time=started_ns,
                       attributes={"camio.deliveries": len(events)}).end()
