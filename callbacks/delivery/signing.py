"""Building an attempt's request: headers in their order, the body, and the
Standard Webhooks signature (v1,<base64 HMAC-SHA256 of "id.timestamp.body">)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from urllib.parse import urlencode, urlsplit

from callbacks.delivery.policy import BODYLESS, USER_AGENT, Job, Request
from domains.formats import camio_date

PREFIX = "whsec_"


def new_secret() -> str:
    """Return a fresh signing secret in the whsec_<base64> form."""
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(PREFIX))


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """Return one ``v1,<signature>`` for ``body`` sent as ``msg_id`` at ``timestamp``."""
    payload = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), payload, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets_: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """Return the webhook-signature value: one signature per secret, space-separated."""
    return " ".join(sign(secret, msg_id, timestamp, body) for secret in secrets_)


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
