"""Signing keys as receivers see them: a domain's JWKS document and URL, an endpoint's
ed25519 public keys."""

from __future__ import annotations

from django.conf import settings

from callbacks.models import (
    DomainKeySet,
    Endpoint,
    SigningKey,
    SigningScheme,
)
from callbacks.signing import jwk

JWKS_PATH = "/.well-known/camio-webhooks/{jwks_id}/jwks.json"

def jwks(jwks_id: str) -> dict[str, list[dict[str, str]]] | None:
    """The JWKS document of a domain's key set: the public key of every ed25519 key that
    signs now or will (the current ones and those whose rotation overlap has not ended) of
    its live endpoints; None for an id that names no key set."""
    key_set = DomainKeySet.objects.filter(jwks_id=jwks_id).first()
    if key_set is None:
        return None
    keys = (SigningKey.objects.live().filter(scheme=SigningScheme.ED25519,
                                             endpoint__domain_id=key_set.domain_id,
                                             endpoint__deleted_at=None)
            .order_by("-created_at", "-id"))
    return {"keys": [jwk(key.key_id, key.secret) for key in keys]}

def jwks_url(endpoint: Endpoint) -> str | None:
    """Where the endpoint's domain publishes its ed25519 public keys (None: it has none)."""
    key_set = DomainKeySet.objects.filter(domain_id=endpoint.domain_id).first()
    if key_set is None:
        return None
    return settings.PORTAL_URL.rstrip("/") + JWKS_PATH.format(jwks_id=key_set.jwks_id)

def endpoint_ed25519(endpoint: Endpoint) -> list[tuple[str, str]]:
    """(key id, whsk_ key) of each ed25519 key that signs the endpoint's callbacks now,
    newest first (none when it does not sign with ed25519)."""
    if not endpoint.signs_with(SigningScheme.ED25519):
        return []
    return [(key.key_id, key.secret) for key in
            endpoint.signing_keys.live().filter(scheme=SigningScheme.ED25519)]
