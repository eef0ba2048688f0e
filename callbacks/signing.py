"""Signing secrets and the Standard Webhooks signatures, one per key that signs at the moment
(the current key, and older keys while their rotation overlaps):

- ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` with a ``whsec_`` secret;
- ``v1a,<base64 ed25519 signature of "id.timestamp.body">`` with a ``whsk_`` private key,
  verified with its ``whpk_`` public key (published as a JWK, ``kid`` its key id).

The delivery engine, the copy-as-curl page and the secrets' services stand on this module;
it imports nothing of the project."""

from __future__ import annotations

import base64
import datetime
import functools
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PREFIX = "whsec_"
ED25519_PREFIX, PUBLIC_PREFIX = "whsk_", "whpk_"


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


def new_ed25519_secret() -> str:
    """Return a fresh ed25519 private key in the whsk_<base64 of its 32 bytes> form."""
    return ED25519_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


@functools.lru_cache(maxsize=1024)
def _private(secret: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(
        secret.removeprefix(ED25519_PREFIX)))


def public_key(secret: str) -> str:
    """The whpk_<base64> public key of a whsk_ private key."""
    raw = _private(secret).public_key().public_bytes_raw()
    return PUBLIC_PREFIX + base64.b64encode(raw).decode()


def jwk(key_id: str, secret: str) -> dict[str, str]:
    """The public key of a whsk_ private key as a JSON Web Key (RFC 8037)."""
    raw = _private(secret).public_key().public_bytes_raw()
    return {"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": key_id,
            "x": base64.urlsafe_b64encode(raw).decode().rstrip("=")}


def sign_v1a(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """Return one ``v1a,<signature>`` for ``body`` sent as ``msg_id`` at ``timestamp``."""
    payload = f"{msg_id}.{timestamp}.".encode() + body
    return "v1a," + base64.b64encode(_private(secret).sign(payload)).decode()


def signature_header(secrets_: list[str], msg_id: str, timestamp: int, body: bytes,
                     ed25519: Sequence[str] = ()) -> str:
    """Return the webhook-signature value: one signature per secret, space-separated: the
    HMAC ones (``v1``), then the ed25519 ones (``v1a``) in the order of webhook-key-id."""
    return " ".join([*(sign(secret, msg_id, timestamp, body) for secret in secrets_),
                     *(sign_v1a(secret, msg_id, timestamp, body) for secret in ed25519)])


def live_secrets(
    keys: Iterable[tuple[str, datetime.datetime | None]], now: datetime.datetime
) -> list[str]:
    """The secrets that sign at ``now``, in the order given (newest first): of each
    (secret, stops signing at) pair, those without an end (the current key) or whose end
    is still to come (an older key while its rotation overlaps)."""
    return [secret for secret, ends in keys if ends is None or ends > now]


def verify_v1a(public: str, headers: dict[str, str], body: bytes, now: float,
               tolerance: float = 300) -> None:
    """Check a callback's ``v1a`` signatures as a receiver should, with a whpk_ public key:
    the timestamp within ``tolerance`` seconds of ``now`` and one v1a signature over
    "id.timestamp.body" made by that key. Raises ValueError saying what failed."""
    lowered = {name.lower(): value for name, value in headers.items()}
    try:
        msg_id, stamp = lowered["webhook-id"], lowered["webhook-timestamp"]
        signatures = lowered["webhook-signature"]
    except KeyError as missing:
        raise ValueError(f"Missing header {missing.args[0]}") from None
    if not stamp.isdigit() or abs(now - int(stamp)) > tolerance:
        raise ValueError("Message timestamp too old or too new")
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public.removeprefix(PUBLIC_PREFIX)))
    payload = f"{msg_id}.{stamp}.".encode() + body
    for part in signatures.split():
        version, _, signature = part.partition(",")
        if version != "v1a":
            continue
        try:
            key.verify(base64.b64decode(signature), payload)
        except (InvalidSignature, ValueError):
            continue
        return
    raise ValueError("No matching v1a signature")
