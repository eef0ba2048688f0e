"""P17 (1): ed25519 (Standard Webhooks v1a). A live callback signed v1a verifies with an
independent ed25519 verifier holding only the key fetched from the domain's JWKS URL and
the webhook-key-id header; one signed with both schemes also verifies with
standardwebhooks (HMAC); after an ed25519 rotation both keys sign and both are published."""

from __future__ import annotations

import base64
import json
import time

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from standardwebhooks.webhooks import Webhook

from callbacks import services as callbacks
from callbacks.management.commands.receive_callbacks import refusal
from callbacks.models import DomainKeySet, SigningScheme
from callbacks.signing import public_key
from domains import services
from tests.receiver import Receiver, wait_for
from tests.support.portal import confirmed_post


def fetch_jwks(client, endpoint) -> dict[str, Ed25519PublicKey]:
    """The domain's published keys, by kid, read from its JWKS URL (no token)."""
    key_set = DomainKeySet.objects.get(domain_id=endpoint.domain_id)
    answer = client.get(f"/.well-known/camio-webhooks/{key_set.jwks_id}/jwks.json")
    assert answer.status_code == 200 and answer["Cache-Control"] == "public, max-age=300"
    keys = {}
    for jwk in answer.json()["keys"]:
        assert (jwk["kty"], jwk["crv"], jwk["alg"]) == ("OKP", "Ed25519", "EdDSA")
        raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
        keys[jwk["kid"]] = Ed25519PublicKey.from_public_bytes(raw)
    return keys


def v1a_verified(received, keys: dict[str, Ed25519PublicKey]) -> list[str]:
    """The key ids whose v1a signature of this callback verifies, as a receiver holding
    only the published keys checks it: the signed content is id.timestamp.body."""
    headers = received.headers
    content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + received.body
    kids = headers["webhook-key-id"].split()
    signatures = [s.split(",", 1)[1] for s in headers["webhook-signature"].split()
                  if s.startswith("v1a,")]
    assert len(kids) == len(signatures)
    good = []
    for kid, signature in zip(kids, signatures, strict=True):
        try:
            keys[kid].verify(base64.b64decode(signature), content)
        except InvalidSignature:
            continue
        good.append(kid)
    return good


@pytest.mark.django_db(transaction=True)
def test_v1a_verifies_with_the_published_key_and_both_schemes_with_standardwebhooks(
    worker, endpoint_for, box, acme_admin, client
):
    ed_only, both = Receiver(), Receiver()
    try:
        first = endpoint_for(ed_only.url, ["camera.created"], signing="ed25519")
        second = endpoint_for(both.url, ["camera.created"], signing="both")
        services.camera_create(owner=acme_admin, device=box, name="Signed")
        wait_for(lambda: ed_only.received and both.received, timeout=30, what="two callbacks")
    finally:
        ed_only.close()
        both.close()
    keys = fetch_jwks(client, first)
    [received] = ed_only.received
    kid = first.current_key(SigningScheme.ED25519).key_id
    assert received.headers["webhook-key-id"] == kid
    assert not any(s.startswith("v1,") for s in received.headers["webhook-signature"].split())
    assert v1a_verified(received, keys) == [kid]
    # Tampered, it fails.
    received.body = received.body.replace(b"Signed", b"Forged")
    assert v1a_verified(received, keys) == []

    [received] = both.received
    assert Webhook(second.current_key().secret).verify(received.body, received.headers)
    assert v1a_verified(received, keys) == [second.current_key(SigningScheme.ED25519).key_id]


@pytest.mark.django_db(transaction=True)
def test_after_an_ed25519_rotation_both_keys_sign_and_are_published(
    worker, endpoint_for, box, acme_admin, client
):
    receiver = Receiver()
    try:
        endpoint = endpoint_for(receiver.url, ["camera.created"], signing="ed25519")
        old = endpoint.current_key(SigningScheme.ED25519).key_id
        callbacks.endpoint_rotate_secret(endpoint=endpoint, actor=acme_admin,
                                         scheme=SigningScheme.ED25519)
        new = endpoint.current_key(SigningScheme.ED25519).key_id
        assert endpoint.current_key().scheme == SigningScheme.HMAC  # untouched
        services.camera_create(owner=acme_admin, device=box, name="Rotated")
        wait_for(lambda: receiver.received, timeout=30, what="the callback")
    finally:
        receiver.close()
    keys = fetch_jwks(client, endpoint)
    assert set(keys) == {old, new}
    [received] = receiver.received
    assert received.headers["webhook-key-id"].split() == [new, old]
    assert v1a_verified(received, keys) == [new, old]


@pytest.mark.django_db
def test_the_api_switches_signing_and_shows_the_public_key_and_jwks_url(api, client):
    made = api.post("/api/endpoints", {"url": "https://hooks.acme.com/in",
                                       "event_types": ["camera.created"]}, format="json")
    assert made.json()["signing"] == "hmac"
    endpoint_id = made.json()["endpoint_id"]
    assert api.get(f"/api/endpoints/{endpoint_id}/secret").json()["jwks_url"] is None
    changed = api.patch(f"/api/endpoints/{endpoint_id}", {"signing": "both"}, format="json")
    assert changed.status_code == 200 and changed.json()["signing"] == "both"
    secret = api.get(f"/api/endpoints/{endpoint_id}/secret").json()
    [ed_key] = [key for key in secret["keys"] if key["scheme"] == "ed25519"]
    assert ed_key["public_key"].startswith("whpk_")
    path = secret["jwks_url"].split("://", 1)[1].split("/", 1)[1]
    published = client.get("/" + path).json()["keys"]
    assert [key["kid"] for key in published] == [ed_key["key_id"]]
    assert "acme" not in secret["jwks_url"]  # the URL names no domain
    rotated = api.post(f"/api/endpoints/{endpoint_id}/rotate-secret", {"scheme": "ed25519"},
                       format="json")
    assert rotated.status_code == 200
    assert len([k for k in rotated.json()["keys"] if k["scheme"] == "ed25519"]) == 2
    assert client.get("/.well-known/camio-webhooks/NOSUCHKEYSET/jwks.json").status_code == 404


@pytest.mark.django_db
def test_receive_callbacks_checks_v1a_with_a_public_key(endpoint_for):
    endpoint = endpoint_for("https://hooks.acme.com/in", ["camera.created"], signing="ed25519")
    key = endpoint.current_key(SigningScheme.ED25519)
    from callbacks.signing import sign_v1a

    body, stamp = json.dumps({"type": "camera.created"}).encode(), int(time.time())
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(stamp),
               "webhook-key-id": key.key_id,
               "webhook-signature": sign_v1a(key.secret, "msg_1", stamp, body)}
    assert refusal(None, headers, body, public_key(key.secret)) == ""
    assert refusal(None, headers, body + b" ", public_key(key.secret)) == \
        "v1a: No matching v1a signature"
    old = {**headers, "webhook-timestamp": str(stamp - 600)}
    assert refusal(None, old, body, public_key(key.secret)) == \
        "v1a: Message timestamp too old or too new"


@pytest.mark.django_db
def test_the_secret_page_publishes_the_key_and_rotates_it_after_asking(
    acme_admin_client, acme, endpoint_for
):
    endpoint = endpoint_for("https://hooks.acme.com/in", ["camera.created"], signing="both")
    key = endpoint.current_key(SigningScheme.ED25519)
    page = acme_admin_client.get(f"/domains/{acme.name}/endpoints/{endpoint.endpoint_id}/secret")
    text = page.content.decode()
    assert public_key(key.secret) in text and key.key_id in text
    assert key.secret not in text  # the private key never
    rotate = f"/domains/{acme.name}/endpoints/{endpoint.endpoint_id}/secret/rotate?scheme=ed25519"
    asked = acme_admin_client.get(rotate)
    assert "Rotate the ed25519 key?" in asked.content.decode()
    assert endpoint.signing_keys.filter(scheme=SigningScheme.ED25519).count() == 1
    confirmed_post(acme_admin_client, rotate)
    assert endpoint.signing_keys.live().filter(scheme=SigningScheme.ED25519).count() == 2
    assert endpoint.signing_keys.filter(scheme=SigningScheme.HMAC).count() == 1
