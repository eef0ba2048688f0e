"""P16 (1): operational events, with a real worker and real receivers. Endpoint A answers 500
until it has failed CALLBACK_FAILING_AFTER times: endpoint B, subscribed to operational
events, gets exactly one signed endpoint.failing about A, then exactly one
endpoint.recovered; 30 deliveries that exhaust their schedule within one digest period make
one delivery.exhausted with a count of 30. A chat endpoint gets a text message for each,
and its URL (a bearer credential) shows nowhere: pages, API, log lines, audit log, attempt
log, copied curl."""

from __future__ import annotations

import datetime
import json
import logging

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from callbacks import services as callbacks
from callbacks.chat import shown_url, text
from callbacks.models import Attempt, Delivery, Endpoint, Event
from callbacks.services import operational
from domains import services
from domains.models import AuditEntry
from tests.receiver import Receiver, wait_for

OPERATIONAL = ["endpoint.failing", "endpoint.recovered", "endpoint.disabled",
               "delivery.exhausted"]
SECRET_PATH = "/services/T0AB12CD/B0EF34GH/s3cr3tW3bh00kT0k3n"


def verified(receiver: Receiver, endpoint: Endpoint) -> list[dict]:
    """Every body the receiver got, each verified with the endpoint's signing secret."""
    secret = endpoint.current_key().secret
    return [Webhook(secret).verify(r.body, r.headers) for r in receiver.received]


def of_type(bodies: list[dict], event_type: str) -> list[dict]:
    return [body for body in bodies if body["type"] == event_type]


@pytest.mark.django_db(transaction=True)
def test_failing_recovered_and_a_digest_reach_the_subscribers_and_the_chat(
    settings, worker, endpoint_for, box, acme, acme_admin, client, caplog
):
    settings.CALLBACK_FAILING_AFTER = 3
    settings.CALLBACK_BREAKER_FAILURES = 0  # the failures, not the circuit, start the episode
    settings.CALLBACK_RETRY_SCHEDULE = [0, 0.1, 0.1, 0.1, 0.1, 0.1]
    settings.CALLBACK_RETRY_JITTER = 0
    caplog.set_level(logging.INFO)
    failures_wanted = {"left": settings.CALLBACK_FAILING_AFTER}

    def flaky(index, request):
        if failures_wanted["left"] > 0:
            failures_wanted["left"] -= 1
            return 500, {}, b"down"
        return 200, {}, b"ok"

    a, b, c = Receiver(answer=flaky), Receiver(), Receiver()
    try:
        endpoint_a = endpoint_for(a.url, ["camera.created"], description="Alarm centre")
        endpoint_b = endpoint_for(b.url, OPERATIONAL, ordering="per_key")  # in order per endpoint
        chat = endpoint_for(c.url + SECRET_PATH, OPERATIONAL, kind="chat")
        services.camera_create(owner=acme_admin, device=box, name="Gate")
        wait_for(lambda: of_type(verified(b, endpoint_b), "endpoint.recovered"), timeout=30,
                 what="endpoint.recovered at B")
        bodies = verified(b, endpoint_b)
        [failing] = of_type(bodies, "endpoint.failing")
        [recovered] = of_type(bodies, "endpoint.recovered")
        assert failing["data"]["object"]["endpoint"]["endpoint_id"] == endpoint_a.endpoint_id
        assert failing["data"]["object"]["trigger"] == "consecutive_failures"
        assert failing["data"]["object"]["consecutive_failures"] == 3
        assert failing["data"]["object"]["last_error"] == "HTTP 500"
        assert recovered["data"]["object"]["endpoint"]["endpoint_id"] == endpoint_a.endpoint_id
        assert bodies.index(failing) < bodies.index(recovered)
        # Never to the endpoint it is about: A only ever got its camera.created.
        assert {json.loads(r.body)["type"] for r in a.received} == {"camera.created"}

        # 30 deliveries that exhaust a one-attempt schedule within one digest period.
        callbacks.endpoint_update(endpoint=endpoint_a, actor=acme_admin,
                                  changes={"retry_schedule": [0]})
        a.answer = lambda index, request: (400, {}, b"no")
        for number in range(30):
            services.camera_create(owner=acme_admin, device=box, name=f"Door {number}")
        wait_for(lambda: Endpoint.objects.get(pk=endpoint_a.pk).exhausted_count == 30,
                 timeout=60, what="30 deliveries to fail for good")
        operational.announce()  # (the 400s began a new failing episode: told now or soon)
        digests = Event.objects.filter(type="delivery.exhausted")
        assert not digests.exists()  # the digest period has not ended
        later = timezone.now() + datetime.timedelta(seconds=settings.OPERATIONAL_DIGEST_SECONDS)
        operational.announce(now=later)
        operational.announce(now=later)
        assert digests.count() == 1  # one digest, not one per call
        wait_for(lambda: of_type(verified(b, endpoint_b), "delivery.exhausted"), timeout=30,
                 what="delivery.exhausted at B")
        [digest] = of_type(verified(b, endpoint_b), "delivery.exhausted")
        assert digest["data"]["object"]["count"] == 30
        ids = digest["data"]["object"]["delivery_ids"]
        assert len(ids) == 20
        failed = Delivery.objects.filter(pk__in=ids, endpoint=endpoint_a, state="failed")
        assert failed.count() == 20
        wait_for(lambda: len(c.received) == len(b.received), timeout=30,
                 what="the chat to get as many messages as B")
    finally:
        a.close()
        b.close()
        c.close()

    # The chat endpoint got a text message for each, at its secret path.
    assert {r.path for r in c.received} == {SECRET_PATH}
    messages = [json.loads(r.body) for r in c.received]
    assert all(set(m) == {"text"} for m in messages)
    said = " | ".join(m["text"] for m in messages)
    assert "Callbacks failing: endpoint Alarm centre (acme.com): 3 attempts in a row" in said
    assert "Callbacks recovered: endpoint Alarm centre (acme.com) answers again." in said
    assert "Deliveries failed for good: 30 to endpoint Alarm centre (acme.com)" in said

    # Its URL's path shows nowhere.
    token = SECRET_PATH.rsplit("/", 1)[1]
    chat.refresh_from_db()
    assert chat.url == shown_url(c.url + SECRET_PATH) and token not in chat.url
    client.force_login(acme_admin)
    delivery = chat.deliveries.first()
    for page in (f"/domains/{acme.name}/", f"/domains/{acme.name}/audit",
                 f"/domains/{acme.name}/endpoints/{chat.endpoint_id}/edit",
                 f"/domains/{acme.name}/deliveries/{delivery.pk}"):
        answer = client.get(page)
        assert answer.status_code == 200, page
        assert token not in answer.content.decode(), page
    assert token not in json.dumps(list(AuditEntry.objects.values("before", "after")))
    assert not Attempt.objects.filter(request_url__contains=token).exists()
    assert token not in caplog.text
    assert token not in json.dumps(list(Event.objects.values_list("type", flat=True)))


@pytest.mark.django_db
def test_the_api_takes_a_chat_endpoint_and_shows_its_host_only(api):
    made = api.post("/api/endpoints", {"url": "https://hooks.slack.com" + SECRET_PATH,
                                       "event_types": OPERATIONAL, "kind": "chat"},
                    format="json")
    assert made.status_code == 201, made.json()
    assert made.json()["url"] == "https://hooks.slack.com/••••••"
    assert made.json()["kind"] == "chat"
    listed = api.get("/api/endpoints").content.decode()
    assert "s3cr3t" not in listed
    endpoint = Endpoint.objects.get()
    assert endpoint.chat_url == "https://hooks.slack.com" + SECRET_PATH  # decrypted on read
    # Sent back as shown (an edit that keeps it), the URL stays; a new one replaces it.
    kept = api.patch(f"/api/endpoints/{endpoint.endpoint_id}",
                     {"url": made.json()["url"], "description": "on-call"}, format="json")
    assert kept.status_code == 200
    endpoint.refresh_from_db()
    assert endpoint.chat_url == "https://hooks.slack.com" + SECRET_PATH
    api.patch(f"/api/endpoints/{endpoint.endpoint_id}",
              {"url": "https://hooks.slack.com/services/NEW/ONE/n3wT0k3n"}, format="json")
    endpoint.refresh_from_db()
    assert endpoint.chat_url.endswith("/NEW/ONE/n3wT0k3n") and "n3wT0k3n" not in endpoint.url
    assert "n3wT0k3n" not in json.dumps(list(AuditEntry.objects.values("before", "after")))


@pytest.mark.django_db
def test_disabling_publishes_endpoint_disabled_to_the_others_with_the_reason(
    acme, acme_admin, endpoint_for
):
    watched = endpoint_for("https://hooks.acme.com/watched", ["camera.created"])
    listener = endpoint_for("https://hooks.acme.com/ops", OPERATIONAL)
    callbacks.endpoint_disable(endpoint=watched, actor=acme_admin, reason="Maintenance")
    callbacks.endpoint_disable(endpoint=listener, actor=None, reason="gone", cause="gone")
    [about_watched] = Delivery.objects.filter(endpoint=listener)
    body = json.loads(bytes(about_watched.event.body))
    assert body["type"] == "endpoint.disabled"
    assert body["data"]["object"] == {
        **body["data"]["object"],
        "reason": "person", "detail": "Maintenance", "disabled_by": "hq@acme.com",
        "cancelled_deliveries": 0}
    # The listener's own disabling is never sent to itself (and nobody else listens).
    assert Delivery.objects.filter(event__type="endpoint.disabled").count() == 1


def test_the_chat_formatter_names_the_object_of_other_events():
    assert text("camera.updated", {"camera": {"name": "Front"}}) == "camera.updated: camera Front"
    assert text("zone.created", {"zone": {"name": "Door"}}, test=True) == \
        "[test] zone.created: zone Door"


@pytest.mark.django_db
def test_an_episode_that_ended_before_it_was_told_is_told_whole_in_order(
    settings, acme, endpoint_for
):
    settings.CALLBACK_FAILING_AFTER = 4
    watched = endpoint_for("https://hooks.acme.com/watched", ["camera.created"])
    listener = endpoint_for("https://hooks.acme.com/ops", OPERATIONAL)
    # As the recorder leaves it: the episode began (4 failures) and ended (a success)
    # before any announcer ran.
    Endpoint.objects.filter(pk=watched.pk).update(health_state="~failures")
    assert operational.announce() == 2
    told = [json.loads(bytes(d.event.body)) for d in
            Delivery.objects.filter(endpoint=listener).order_by("event__created_at", "created_at")]
    assert [body["type"] for body in told] == ["endpoint.failing", "endpoint.recovered"]
    assert told[0]["data"]["object"]["consecutive_failures"] == 4
    watched.refresh_from_db()
    assert (watched.health_state, watched.health_told) == ("", "")
    assert operational.announce() == 0
