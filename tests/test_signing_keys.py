"""Rotating a secret never drops one a receiver still uses (P13): signing keys are rows; each
rotation keeps every earlier key signing for 24 hours after it, up to 3 beside the current
one; a fourth rotation inside that window is refused (service, page, API, admin) saying
when it will be allowed; the migration keeps every endpoint's secrets signing."""

from __future__ import annotations

import datetime
import re
import time

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from callbacks import services as callbacks
from callbacks.delivery.claims import claim, endpoint_views
from callbacks.delivery.policy import build_request
from callbacks.models import Delivery, Endpoint, SigningKey
from callbacks.signing import new_secret
from domains import services
from domains.models import AuditEntry
from tests.receiver import wait_for
from tests.support.clock import move_clock
from tests.support.migrations import migrate
from tests.support.portal import confirmed_post, url
from tests.support.signed_callbacks import callback

BEFORE_KEYS = ("callbacks", "0007_delivery_outcomes_and_latency")
REFUSED = "Not rotated: 3 earlier secrets still sign beside the current one"


def webhook_headers(headers) -> dict[str, str]:
    return {name: value for name, value in dict(headers).items() if name.startswith("webhook-")}


def keys_now() -> list[tuple]:
    return list(SigningKey.objects.values_list("key_id", "secret", "expires_at"))


def rotate(endpoint: Endpoint, times: int) -> None:
    for _ in range(times):
        callbacks.endpoint_rotate_secret(endpoint=endpoint, actor=None)


@pytest.mark.django_db(transaction=True)
def test_after_three_rotations_a_receiver_holding_the_first_secret_verifies_the_callback(
    worker, receiver, endpoint_for, box, acme_admin
):
    endpoint = endpoint_for(receiver.url, ["camera.created"])
    first = endpoint.current_key().secret
    rotate(endpoint, 3)
    services.camera_create(owner=acme_admin, device=box, name="After three rotations")
    [received] = wait_for(lambda: receiver.received, what="the callback")
    headers = webhook_headers(received.headers)
    assert Webhook(first).verify(received.body, headers)["type"] == "camera.created"
    assert Webhook(endpoint.current_key().secret).verify(received.body, headers)
    assert len(headers["webhook-signature"].split(" ")) == 4  # one per key that signs
    wait_for(lambda: Delivery.objects.filter(state="succeeded").exists(), what="recorded")


@pytest.mark.django_db
def test_a_fourth_rotation_inside_the_window_is_refused_saying_when_and_changes_nothing(
    quiet_endpoint,
):
    rotate(quiet_endpoint, 3)
    oldest = quiet_endpoint.signing_keys.order_by("created_at").first()
    assert oldest is not None and oldest.expires_at is not None
    before, updated_at = keys_now(), Endpoint.objects.get().updated_at
    when = f"{oldest.expires_at:%Y-%m-%d %H:%M:%S} UTC; rotating is allowed again from then"
    with pytest.raises(ValidationError, match=f"{REFUSED}.*{re.escape(when)}"):
        callbacks.endpoint_rotate_secret(endpoint=quiet_endpoint, actor=None)
    assert keys_now() == before and Endpoint.objects.get().updated_at == updated_at
    assert AuditEntry.objects.filter(action="endpoint.secret_rotated").count() == 3
    assert len(quiet_endpoint.signing_secrets()) == 4


@pytest.mark.django_db
def test_the_sending_path_loads_the_keys_of_many_endpoints_in_one_query(
    endpoint_for, django_assert_num_queries
):
    for n in range(3):
        rotate(endpoint_for(f"https://hooks.acme.com/{n}", ["camera.created"]), 1)
    endpoints = set(Endpoint.objects.values_list("pk", "updated_at"))
    with django_assert_num_queries(2):  # the endpoints with their domains, then their keys
        views = endpoint_views(endpoints)
    assert [len(view.secrets()) for view in views.values()] == [2, 2, 2]


@pytest.mark.django_db
def test_each_rotation_ends_the_older_keys_one_overlap_later_at_most(quiet_endpoint):
    rotate(quiet_endpoint, 1)
    [first_end] = quiet_endpoint.signing_keys.exclude(expires_at=None).values_list(
        "expires_at", flat=True
    )
    overlap = datetime.timedelta(hours=settings.CALLBACK_SECRET_OVERLAP_HOURS)
    assert first_end - timezone.now() <= overlap
    rotate(quiet_endpoint, 1)  # the first key keeps its end; the second gets its own
    ends = [key.expires_at for key in quiet_endpoint.signing_keys.all()]
    assert ends[0] is None and ends[2] == first_end and first_end <= ends[1]


@pytest.mark.django_db
def test_after_the_window_the_older_keys_stop_signing_and_rotating_is_allowed_again(
    monkeypatch, quiet_endpoint, box, acme_admin, django_capture_on_commit_callbacks
):
    first = quiet_endpoint.current_key().secret
    rotate(quiet_endpoint, 3)
    current = quiet_endpoint.current_key().secret
    with django_capture_on_commit_callbacks(execute=False):
        services.camera_create(owner=acme_admin, device=box, name="A day later")
    move_clock(monkeypatch, settings.CALLBACK_SECRET_OVERLAP_HOURS + 0.01)
    [job] = claim([str(Delivery.objects.get().pk)], 1)  # the sending path, a day later
    assert job.secrets == [current]
    request = build_request(job, int(time.time()))
    assert Webhook(current).verify(request.body, webhook_headers(request.headers))
    with pytest.raises(WebhookVerificationError):
        Webhook(first).verify(request.body, webhook_headers(request.headers))
    callbacks.endpoint_rotate_secret(endpoint=quiet_endpoint, actor=None)
    assert quiet_endpoint.signing_secrets() == [quiet_endpoint.current_key().secret, current]
    assert quiet_endpoint.signing_keys.count() == 2  # the keys that stopped signing are gone


@pytest.mark.django_db
def test_the_secret_page_lists_each_key_with_its_age_and_when_it_stops_signing(
    acme_admin_client, quiet_endpoint
):
    rotate(quiet_endpoint, 1)
    page = acme_admin_client.get(
        url("domains:endpoint_secret", "acme.com", quiet_endpoint.endpoint_id)
    ).content.decode()
    current, older = quiet_endpoint.signing_keys.all()
    assert current.key_id in page and older.key_id in page
    assert "current: signs until the next rotation" in page and "ago)" in page
    assert f"{older.expires_at:%Y-%m-%d %H:%M} UTC</time> <small class=\"muted\">(in 23" in page
    assert current.secret not in page and older.secret not in page
    rotate_url = url("domains:endpoint_secret_rotate", "acme.com", quiet_endpoint.endpoint_id)
    assert f'href="{rotate_url}"' in page and "possible again" not in page


@pytest.mark.django_db
def test_rotating_on_the_page_asks_first_naming_when_the_secrets_in_use_stop_signing(
    acme_admin_client, quiet_endpoint
):
    path = url("domains:endpoint_secret_rotate", "acme.com", quiet_endpoint.endpoint_id)
    asked = acme_admin_client.get(path).content.decode()
    assert "Rotate the signing secret?" in asked and "Your receiver must switch to it" in asked
    [shown] = re.findall(r"stops signing at (\S+ \S+) UTC", asked)
    then = datetime.datetime.fromisoformat(f"{shown}+00:00")
    overlap = datetime.timedelta(hours=settings.CALLBACK_SECRET_OVERLAP_HOURS)
    assert abs(then - (timezone.now() + overlap)) < datetime.timedelta(minutes=2)
    refused = acme_admin_client.post(path)
    assert refused.status_code == 400 and "Nothing was changed" in refused.content.decode()
    assert SigningKey.objects.count() == 1
    done = confirmed_post(acme_admin_client, path, follow=True)
    assert "New secret issued" in done.content.decode()
    assert len(quiet_endpoint.signing_secrets()) == 2


@pytest.mark.django_db
def test_a_refused_fourth_rotation_on_the_page_shows_its_message(acme_admin_client, quiet_endpoint):
    rotate(quiet_endpoint, 3)
    before = keys_now()
    secret_page = url("domains:endpoint_secret", "acme.com", quiet_endpoint.endpoint_id)
    assert "rotating is possible again from" in acme_admin_client.get(secret_page).content.decode()
    path = url("domains:endpoint_secret_rotate", "acme.com", quiet_endpoint.endpoint_id)
    assert "this rotation will be refused until" in acme_admin_client.get(path).content.decode()
    done = confirmed_post(acme_admin_client, path, follow=True)
    assert done.redirect_chain[-1][0] == secret_page
    assert REFUSED in done.content.decode() and keys_now() == before


@pytest.mark.django_db
def test_the_api_rotates_at_once_and_refuses_a_fourth_with_409(api, api_endpoint):
    endpoint = f"/api/endpoints/{api_endpoint['endpoint_id']}"
    for count in (2, 3, 4):
        rotated = api.post(f"{endpoint}/rotate-secret")
        assert rotated.status_code == 200 and len(rotated.json()["keys"]) == count
    answer = rotated.json()
    current, *older = answer["keys"]
    assert current["expires_at"] is None and all(key["expires_at"] for key in older)
    assert api_endpoint["secret"] not in str(answer)  # older secrets are never shown
    refused = api.post(f"{endpoint}/rotate-secret")
    assert refused.status_code == 409
    [message] = refused.json()["errors"]["detail"]
    assert message.startswith(REFUSED) and "rotating is allowed again from" in message
    assert api.get(f"{endpoint}/secret").json() == answer  # nothing changed
    schema = api.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/endpoints/{endpoint_id}/rotate-secret"]["post"]
    assert "3 keys sign already" in operation["responses"]["409"]["description"]


@pytest.mark.django_db
def test_the_admin_action_asks_first_then_rotates_and_shows_a_refusal(support_client,
                                                                     quiet_endpoint):
    action = {"action": "rotate_secret", "_selected_action": [quiet_endpoint.pk]}
    asked = support_client.post("/admin/callbacks/endpoint/", {**action, "index": "0"})
    assert asked.status_code == 200 and "receiver must switch to it" in asked.content.decode()
    assert SigningKey.objects.count() == 1
    support_client.post("/admin/callbacks/endpoint/",
                        {**action, "confirmation": asked.context["token"]})
    assert SigningKey.objects.count() == 2
    rotate(quiet_endpoint, 2)
    before = keys_now()
    asked = support_client.post("/admin/callbacks/endpoint/", {**action, "index": "0"})
    done = support_client.post("/admin/callbacks/endpoint/",
                               {**action, "confirmation": asked.context["token"]}, follow=True)
    assert REFUSED in done.content.decode() and "0 secrets rotated" in done.content.decode()
    assert keys_now() == before
    change = support_client.get(f"/admin/callbacks/endpoint/{quiet_endpoint.pk}/change/")
    listed = change.content.decode()  # the keys that sign, their secrets masked
    assert all(key_id in listed and secret not in listed for key_id, secret, _ in before)


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_every_endpoint_signing_with_the_secrets_it_had(endpoint_for):
    rotating = endpoint_for("https://hooks.acme.com/rotating", ["camera.created"])
    plain = endpoint_for("https://hooks.acme.com/plain", ["camera.created"])
    plain_secret, new, old = plain.current_key().secret, new_secret(), new_secret()
    ends = timezone.now() + datetime.timedelta(hours=10)
    try:
        before = migrate(BEFORE_KEYS).get_model("callbacks", "Endpoint")
        assert before.objects.get(pk=plain.pk).secret == plain_secret  # and back again
        before.objects.filter(pk=rotating.pk).update(
            secret=new, previous_secret=old, previous_secret_expires_at=ends
        )
        before.objects.filter(pk=plain.pk).update(  # a rotation whose overlap has ended
            previous_secret=new_secret(), previous_secret_expires_at=timezone.now()
        )
    finally:
        migrate()
    current, older = rotating.signing_keys.all()
    assert (current.secret, current.expires_at, older.secret, older.expires_at) == (
        new, None, old, ends
    )
    assert [key.secret for key in plain.signing_keys.all()] == [plain_secret]
    rotating.refresh_from_db()
    view = endpoint_views({(rotating.pk, rotating.updated_at)})[rotating.pk]  # as sent
    assert view.secrets() == [new, old]
    request = callback(1, secrets=view.secrets())
    for secret in (new, old):
        assert Webhook(secret).verify(request.body, webhook_headers(request.headers))["id"]
