"""What an attempt is and what its answer means: the Job and Result types, how a
request is built (headers in their order, the body, the Standard Webhooks signature of
callbacks.signing), the answer table, the retry schedule and the header names nobody may
set."""

from __future__ import annotations

import datetime
import email.utils
import functools
import random
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings

from callbacks import chat
from callbacks.egress import AddressRefused
from callbacks.signing import signature_header
from domains.formats import camio_date

VERSION = "0.1.0"
USER_AGENT = f"camio-portal/{VERSION}"
RESERVED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "user-agent",
        "camio-event-date",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "webhook-key-id",
        "camio-order-key",
        "camio-order-sequence",
        "camio-test",
        "camio-request-id",
        "traceparent",
        "tracestate",
    }
)
BODYLESS = frozenset({"GET", "HEAD"})


# --- What is sent ------------------------------------------------------------


@dataclass
class Job:
    """Everything needed to send one attempt, read from the database when it is claimed."""

    delivery_id: str
    endpoint_id: int
    event_id: str
    event_type: str
    event_created_at: datetime.datetime
    method: str
    url: str
    headers: dict[str, str]
    secrets: list[str]
    body: bytes
    attempt_number: int
    due_at: datetime.datetime
    claim_token: str
    test: bool = False
    replay: bool = False
    # Which attempt of the retry schedule this is: ``attempt_number`` less the earlier
    # attempts that used no slot (0: the same as ``attempt_number``).
    schedule_slot: int = 0
    # Sent as the probe of the endpoint's open circuit.
    probe: bool = False
    # For log lines: the endpoint's public id and its domain's name.
    endpoint_public_id: str = ""
    domain: str = ""
    # On a ``per_key`` endpoint: the event's order key and its number in that key's
    # sequence (sent as camio-order-key and camio-order-sequence).
    order_key: str = ""
    sequence: int = 0
    # The earliest start the endpoint's rate limit gives this attempt (None: at once).
    not_before: datetime.datetime | None = None
    # The endpoint's own retry schedule and attempt timeout (None: the deployment's).
    schedule: list[float] | None = None
    timeout: float | None = None
    # The request that caused the event and its trace context (callbacks/tracing.py).
    request_id: str = ""
    traceparent: str = ""
    tracestate: str = ""
    # A chat endpoint (callbacks/chat.py): a text message is sent, and ``shown_url`` (its
    # scheme and host) is what the attempt log records of its URL.
    chat: bool = False
    shown_url: str = ""
    # (key id, whsk_ private key) of each ed25519 key that signs (v1a), newest first.
    ed25519: list[tuple[str, str]] = field(default_factory=list)
    # The endpoint's client certificate and CA bundle (None: the default TLS context).
    tls: ssl.SSLContext | None = None
    # The endpoint's OAuth2 client credentials (callbacks/delivery/oauth.py's Client).
    oauth: Any = None


@dataclass
class Request:
    method: str
    url: str
    headers: list[tuple[str, str]]
    body: bytes | None


# --- What an answer means ----------------------------------------------------


class Outcome:
    SUCCEEDED = "succeeded"
    GONE = "gone"  # 410: disable the endpoint, fail the delivery
    RETRY = "retry"  # on the schedule (or no sooner than Retry-After)


@dataclass(frozen=True)
class Verdict:
    outcome: str
    configuration_error: bool = False
    retry_after: float | None = None
    # Counts toward opening the endpoint's circuit: no answer (a timeout, a connection or
    # TLS error; not a refusal of ours) or a 5xx without Retry-After. Other 4xx are the
    # delivery's own problem; an answer with Retry-After pauses instead.
    trips_breaker: bool = False


def judge(status: int | None, headers: dict[str, str] | None, refused: bool = False) -> Verdict:
    """Apply the answer table (docs/callbacks.md, "What each answer means")."""
    if status is None:
        return Verdict(Outcome.RETRY, configuration_error=refused, trips_breaker=not refused)
    if 200 <= status < 300:
        return Verdict(Outcome.SUCCEEDED)
    if status == 410:
        return Verdict(Outcome.GONE, configuration_error=True)
    retry_after = None
    if status in (429, 503):
        retry_after = parse_retry_after((headers or {}).get("retry-after"))
    return Verdict(
        Outcome.RETRY,
        configuration_error=400 <= status < 500 and status != 429,
        retry_after=retry_after,
        trips_breaker=status >= 500 and retry_after is None,
    )


def parse_retry_after(value: str | None, now: datetime.datetime | None = None) -> float | None:
    """Return Retry-After in seconds (delta or HTTP date), capped, or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        now = now or datetime.datetime.now(datetime.UTC)
        seconds = (when - now).total_seconds()
    return max(0.0, min(seconds, float(settings.CALLBACK_RETRY_AFTER_MAX)))


def next_delay(attempts_made: int, rng: random.Random | None = None,
               schedule: Sequence[float] | None = None) -> float | None:
    """Seconds until the next attempt after ``attempts_made`` attempts, or None when spent;
    on ``schedule`` (an endpoint's own), else the deployment's."""
    schedule = schedule or settings.CALLBACK_RETRY_SCHEDULE
    if attempts_made >= len(schedule):
        return None
    base = float(schedule[attempts_made])
    jitter = settings.CALLBACK_RETRY_JITTER
    return base * (1 + (rng or random).uniform(-jitter, jitter))


# --- What happened -----------------------------------------------------------


@dataclass
class Result:
    """What one attempt did; written to the Attempt table by the recorder."""

    job: Job
    request: Request
    started_at: datetime.datetime
    finished_at: datetime.datetime
    status: int | None = None
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    response_body: str = ""
    error: str = ""
    refused: bool = False

    @functools.cached_property
    def verdict(self) -> Verdict:
        """What the answer means (computed once: status and headers do not change)."""
        return judge(self.status, {k.lower(): v for k, v in self.response_headers}, self.refused)

    @property
    def duration_ms(self) -> int:
        return max(0, int((self.finished_at - self.started_at).total_seconds() * 1000))


# --- Building and signing a request ------------------------------------------

def build_request(job: Job, timestamp: int, trace: Sequence[tuple[str, str]] = ()) -> Request:
    """Return the signed request for one attempt of ``job`` sent at ``timestamp``, with
    the attempt's ``trace`` headers (traceparent, tracestate) unless they are turned off."""
    bodyless = job.method in BODYLESS
    url = job.url
    if bodyless:
        query = urlencode({"event_id": job.event_id, "event_type": job.event_type})
        url = f"{url}{'&' if urlsplit(url).query else '?'}{query}"
    body = b"" if bodyless else chat.body(job.body) if job.chat else job.body
    headers = list(job.headers.items())
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))
    headers += [
        ("User-Agent", USER_AGENT),
        ("camio-event-date", camio_date(job.event_created_at)),
        ("webhook-id", job.event_id),
        *((("camio-order-key", job.order_key), ("camio-order-sequence", str(job.sequence)))
          if job.order_key else ()),
        *((("camio-test", "true"),) if job.test else ()),
        *(((("camio-request-id", job.request_id),) if job.request_id else ()) + tuple(trace)
          if settings.CALLBACK_TRACE_HEADERS else ()),
        ("webhook-timestamp", str(timestamp)),
        *((("webhook-key-id", " ".join(kid for kid, _ in job.ed25519)),) if job.ed25519 else ()),
        ("webhook-signature", signature_header(job.secrets, job.event_id, timestamp, body,
                                               [secret for _, secret in job.ed25519])),
    ]
    return Request(job.method, url, headers, None if bodyless else body)


def readable_error(exc: BaseException, timeout: float) -> str:
    """Turn a transport exception into a sentence an admin understands."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    for item in chain:
        if isinstance(item, AddressRefused):
            return f"Refused: {item}"
    for item in chain:
        if isinstance(item, TimeoutError) or "Timeout" in type(item).__name__:
            return f"Timed out after {timeout:g} s"
    text = " ".join(f"{type(item).__name__} {item}" for item in chain)
    for needle, message in (
        ("Connection refused", "Connection refused"),
        ("ConnectionRefused", "Connection refused"),
        ("Name or service not known", "Host name not found"),
        ("nodename nor servname", "Host name not found"),
        ("No address associated", "Host name not found"),
        ("CERTIFICATE_VERIFY_FAILED", "TLS certificate could not be verified"),
        ("CERTIFICATE_REQUIRED", "TLS error: the receiver requires a client certificate"),
        ("certificate required", "TLS error: the receiver requires a client certificate"),
        ("SSL", "TLS error"),
        ("Connection reset", "Connection reset by the receiver"),
        ("Can not write request body", "The receiver closed the connection while the request "
         "was sent (over TLS 1.3, as a receiver refusing the client certificate does)"),
        ("ServerDisconnected", "The receiver closed the connection without answering"),
        ("RemoteDisconnected", "The receiver closed the connection without answering"),
    ):
        if needle in text:
            return message
    return f"{type(exc).__name__}: {exc}"[:300]
