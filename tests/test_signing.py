"""Acceptance 5: Standard Webhooks signatures, and both secrets during a rotation."""

from __future__ import annotations

import datetime
import json
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from callbacks import services as callback_services
from callbacks.delivery.claims import claim
from callbacks.delivery.policy import build_request
from callbacks.models import Delivery, Endpoint
from domains import services
from tests.receiver import wait_for


def verify(secret: str, received) -> dict:
    headers = {k: v for k, v in received.headers.items() if k.startswith("webhook-")}
    return Webhook(secret).verify(received.body, headers)


@pytest.mark.django_db(transaction=True)
def test_signatures_verify_and_rotation_signs_with_both(
    worker, receiver, endpoint_for, box, acme_admin
):
    endpoint = endpoint_for(receiver.url, ["camera.created"])
    old_secret = endpoint.current_key().secret
    assert old_secret.startswith("whsec_")
    services.camera_create(owner=acme_admin, device=box, name="Before")
    wait_for(lambda: len(receiver.received) == 1, what="first receipt")
    assert verify(old_secret, receiver.received[0])["type"] == "camera.created"

    rotated = callback_services.endpoint_rotate_secret(endpoint=endpoint, actor=acme_admin)
    new_secret = rotated.current_key().secret
    assert new_secret != old_secret
    services.camera_create(owner=acme_admin, device=box, name="During")
    wait_for(lambda: len(receiver.received) == 2, what="second receipt")
    during = receiver.received[1]
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert verify(old_secret, during) == verify(new_secret, during)

    # 24 h later (signing called in-process with the clock moved on): only the new secret.
    wait_for(lambda: Delivery.objects.filter(state="succeeded").count() == 2, what="recorded")
    delivery = Delivery.objects.order_by("created_at").last()
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=24, seconds=1)
    endpoint = Endpoint.objects.get(pk=endpoint.pk)
    # Claimed again (pending once more) to build the attempt a later retry would send.
    Delivery.objects.filter(pk=delivery.pk).update(state="pending")
    [job] = claim([str(delivery.pk)], 1)
    job.secrets = endpoint.signing_secrets(now=later)
    request = build_request(job, int(time.time()))
    headers = {k: v for k, v in request.headers if k.startswith("webhook-")}
    assert len(headers["webhook-signature"].split(" ")) == 1
    assert Webhook(new_secret).verify(request.body, headers)["id"] == str(delivery.event_id)
    with pytest.raises(WebhookVerificationError):
        Webhook(old_secret).verify(request.body, headers)


@pytest.mark.django_db
def test_get_signs_an_empty_body(endpoint_for, box, acme_admin, django_capture_on_commit_callbacks):
    endpoint = endpoint_for("https://receiver.example.com/", ["camera.created"], method="GET")
    with django_capture_on_commit_callbacks(execute=False):
        services.camera_create(owner=acme_admin, device=box, name="Cam")
    [job] = claim([str(Delivery.objects.get().pk)], 1)
    request = build_request(job, int(time.time()))
    headers = {k: v for k, v in request.headers if k.startswith("webhook-")}
    assert request.body is None
    timestamp = datetime.datetime.fromtimestamp(int(headers["webhook-timestamp"]), datetime.UTC)
    expected = Webhook(endpoint.current_key().secret).sign(headers["webhook-id"], timestamp, "")
    assert headers["webhook-signature"] == expected
    assert json.loads(job.body)["type"] == "camera.created"
