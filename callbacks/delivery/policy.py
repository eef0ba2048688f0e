"""The one delivery policy: what each answer means, when to retry, what to mask,
and how a request for an attempt is built (headers, signing, body)."""

from __future__ import annotations

import datetime
import email.utils
import random
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.conf import settings

from callbacks.delivery.signing import signature_header
from callbacks.formats import camio_date

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
    }
)
SECRET_HEADER = re.compile(r"authorization|cookie|token|secret|key|password|signature", re.I)
MASK = "••••••"
BODYLESS = frozenset({"GET", "HEAD"})


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


def judge(status: int | None, headers: dict[str, str] | None, refused: bool = False) -> Verdict:
    """Apply the answer table (README, "What each answer means")."""
    if status is None:
        return Verdict(Outcome.RETRY, configuration_error=refused)
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


def next_delay(attempts_made: int, rng: random.Random | None = None) -> float | None:
    """Seconds until the next attempt after ``attempts_made`` attempts, or None when spent."""
    schedule = settings.CALLBACK_RETRY_SCHEDULE
    if attempts_made >= len(schedule):
        return None
    base = float(schedule[attempts_made])
    jitter = settings.CALLBACK_RETRY_JITTER
    return base * (1 + (rng or random).uniform(-jitter, jitter))


# --- Masking -----------------------------------------------------------------


def mask_url(url: str) -> str:
    """Hide ``user:password@`` in a URL."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{MASK}@{host}"))


def mask_headers(headers: list[tuple[str, str]]) -> list[list[str]]:
    """Return headers with secret-looking values masked (names kept)."""
    return [[name, MASK if SECRET_HEADER.search(name) else value] for name, value in headers]


# --- Building an attempt's request -------------------------------------------


@dataclass
class Job:
    """Everything needed to send one attempt, read from the database before sending."""

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
    test: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Request:
    method: str
    url: str
    headers: list[tuple[str, str]]
    body: bytes | None


def build_request(job: Job, timestamp: int) -> Request:
    """Return the signed request for one attempt of ``job`` sent at ``timestamp``."""
    bodyless = job.method in BODYLESS
    url = job.url
    if bodyless:
        query = urlencode({"event_id": job.event_id, "event_type": job.event_type})
        url = f"{url}{'&' if urlsplit(url).query else '?'}{query}"
    body = b"" if bodyless else job.body
    headers = list(job.headers.items())
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))
    headers += [
        ("User-Agent", USER_AGENT),
        ("camio-event-date", camio_date(job.event_created_at)),
        ("webhook-id", job.event_id),
        ("webhook-timestamp", str(timestamp)),
        ("webhook-signature", signature_header(job.secrets, job.event_id, timestamp, body)),
    ]
    return Request(job.method, url, headers, None if bodyless else body)


# --- Results -----------------------------------------------------------------


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

    @property
    def verdict(self) -> Verdict:
        return judge(self.status, {k.lower(): v for k, v in self.response_headers}, self.refused)

    @property
    def duration_ms(self) -> int:
        return max(0, int((self.finished_at - self.started_at).total_seconds() * 1000))


def readable_error(exc: BaseException, timeout: float) -> str:
    """Turn a transport exception into a sentence an admin understands."""
    from callbacks.delivery.guard import AddressRefused

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
        ("SSL", "TLS error"),
        ("Connection reset", "Connection reset by the receiver"),
        ("ServerDisconnected", "The receiver closed the connection without answering"),
        ("RemoteDisconnected", "The receiver closed the connection without answering"),
    ):
        if needle in text:
            return message
    return f"{type(exc).__name__}: {exc}"[:300]
