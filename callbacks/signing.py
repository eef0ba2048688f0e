"""Signing secrets and the Standard Webhooks signature: ``v1,<base64 HMAC-SHA256 of
"id.timestamp.body">``, one per secret that signs at the moment (the current key, and older
keys while their rotation overlaps). The delivery engine, the copy-as-curl page and the
secrets' services stand on this module; it imports nothing of the project."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import secrets
from collections.abc import Iterable

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


def live_secrets(
    keys: Iterable[tuple[str, datetime.datetime | None]], now: datetime.datetime
) -> list[str]:
    """The secrets that sign at ``now``, in the order given (newest first): of each
    (secret, stops signing at) pair, those without an end (the current key) or whose end
    is still to come (an older key while its rotation overlaps)."""
    return [secret for secret, ends in keys if ends is None or ends > now]
