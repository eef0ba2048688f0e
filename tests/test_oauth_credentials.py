"""P17 (3): OAuth2 client credentials. One token request serves many deliveries across two
worker processes; a receiver's 401 triggers exactly one refresh; a token server that is
down shows as such in the delivery log; the client secret is never shown."""

from __future__ import annotations

import json
import socket
from urllib.parse import parse_qs

import pytest

from callbacks.models import Attempt, Delivery, Endpoint, OAuthToken
from domains import services
from domains.models import AuditEntry
from tests.receiver import Receiver, wait_for
from tests.support.oauth import SECRET, credentials, token_server


def accepting(*tokens: str):
    def answer(index, request):
        good = request.headers.get("authorization") in {f"Bearer {t}" for t in tokens}
        return (200, {}, b"ok") if good else (401, {}, b"who are you")
    return answer


@pytest.mark.django_db(transaction=True)
def test_one_token_serves_many_deliveries_across_two_workers(
    two_delivery_workers, endpoint_for, box, acme_admin
):
    tokens, receiver = token_server(), Receiver(answer=accepting("tok-1"))
    try:
        endpoint = endpoint_for(receiver.url, ["camera.created"], **credentials(tokens))
        for number in range(30):
            services.camera_create(owner=acme_admin, device=box, name=f"Camera {number}")
        wait_for(lambda: Delivery.objects.filter(state="succeeded").count() == 30, timeout=60,
                 what="30 deliveries to succeed")
    finally:
        tokens.close()
        receiver.close()
    assert len(tokens.received) == 1
    assert parse_qs(tokens.received[0].body.decode())["scope"] == ["callbacks"]
    assert {r.headers["authorization"] for r in receiver.received} == {"Bearer tok-1"}
    assert OAuthToken.objects.get(endpoint=endpoint).requests == 1


@pytest.mark.django_db(transaction=True)
def test_a_401_triggers_exactly_one_refresh(worker, endpoint_for, box, acme_admin):
    tokens, receiver = token_server(), Receiver(answer=accepting("tok-2"))
    try:
        endpoint = endpoint_for(receiver.url, ["camera.created"], **credentials(tokens))
        services.camera_create(owner=acme_admin, device=box, name="Refreshed")
        delivery = wait_for(lambda: Delivery.objects.filter(state="succeeded").first(),
                            timeout=30, what="the delivery to succeed")
    finally:
        tokens.close()
        receiver.close()
    assert len(tokens.received) == 2  # tok-1 refused by the receiver, then tok-2
    assert [r.headers["authorization"] for r in receiver.received] == ["Bearer tok-1",
                                                                        "Bearer tok-2"]
    [attempt] = delivery.attempts.all()  # one attempt, not two
    assert attempt.response_status == 200
    assert dict(attempt.request_headers)["Authorization"] != "Bearer tok-2"  # masked
    assert OAuthToken.objects.get(endpoint=endpoint).token == "tok-2"


@pytest.mark.django_db(transaction=True)
def test_a_token_server_that_is_down_shows_in_the_log(settings, worker, endpoint_for, box,
                                                      acme_admin):
    settings.CALLBACK_RETRY_SCHEDULE = [0, 3600]
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    receiver = Receiver()
    try:
        endpoint_for(receiver.url, ["camera.created"],
                     oauth_token_url=f"http://127.0.0.1:{port}/token",
                     oauth_client_id="camio", oauth_client_secret=SECRET)
        services.camera_create(owner=acme_admin, device=box, name="No token")
        attempt = wait_for(lambda: Attempt.objects.first(), timeout=30, what="the attempt")
    finally:
        receiver.close()
    assert attempt.error == "OAuth2 token request failed: Connection refused"
    assert attempt.response_status is None and not receiver.received


@pytest.mark.django_db
def test_the_client_secret_is_never_shown_and_a_half_given_one_is_refused(api):
    made = api.post("/api/endpoints", {"url": "https://hooks.acme.com/in",
                                       "event_types": ["camera.created"],
                                       "oauth_token_url": "https://auth.acme.com/token",
                                       "oauth_client_id": "camio",
                                       "oauth_client_secret": SECRET}, format="json")
    assert made.status_code == 201, made.json()
    assert made.json()["oauth_token_url"] == "https://auth.acme.com/token"
    endpoint_id = made.json()["endpoint_id"]
    shown = made.content.decode() + api.get(f"/api/endpoints/{endpoint_id}").content.decode()
    assert SECRET not in shown
    assert SECRET not in json.dumps(list(AuditEntry.objects.values("before", "after")))
    # The secret left out keeps the stored one.
    kept = api.patch(f"/api/endpoints/{endpoint_id}", {"oauth_scope": "more"}, format="json")
    assert kept.status_code == 200
    assert Endpoint.objects.get().oauth_client_secret == SECRET
    refused = api.post("/api/endpoints", {"url": "https://hooks.acme.com/2",
                                          "event_types": ["camera.created"],
                                          "oauth_token_url": "https://auth.acme.com/token"},
                       format="json")
    assert refused.status_code == 422
    assert set(refused.json()["errors"]) == {"oauth_client_id", "oauth_client_secret"}
    loopback = api.patch(f"/api/endpoints/{endpoint_id}",
                         {"oauth_token_url": "http://10.0.0.1/token"}, format="json")
    assert loopback.status_code == 422 and "oauth_token_url" in loopback.json()["errors"]
