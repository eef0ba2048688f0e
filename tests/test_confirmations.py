"""Every destructive page action asks first (P13): the first click only shows a page naming
what will be lost; a POST without that page's token is refused (400) and changes nothing;
confirming does it. Token-bound: a token for one thing does not confirm another."""

from __future__ import annotations

import pytest

from callbacks import services as callbacks
from callbacks.models import Delivery, DeliveryState, Endpoint
from callbacks.publishing import publish
from domains import services
from domains.models import ApiToken, DomainAdministrator
from pacs import services as pacs_services
from pacs.models import PacsIntegration
from tests.support.portal import confirmed_post, url

pytestmark = pytest.mark.django_db


def page_text(client, path: str) -> str:
    answer = client.get(path)
    assert answer.status_code == 200
    return answer.content.decode()


def test_disabling_an_endpoint_names_its_pending_deliveries_first(
    acme_admin_client, pending_delivery
):
    endpoint = pending_delivery.endpoint
    path = url("domains:endpoint_disable", "acme.com", endpoint.endpoint_id)
    text = page_text(acme_admin_client, path)
    assert "Disable this endpoint?" in text and "1 pending delivery cancelled" in text
    assert 'class="danger"' in text
    refused = acme_admin_client.post(path, {"reason": "tidy up"})
    assert refused.status_code == 400 and "Nothing was changed" in refused.content.decode()
    assert Endpoint.objects.get().enabled and Delivery.objects.get().state == DeliveryState.PENDING
    confirmed_post(acme_admin_client, path, {"reason": "tidy up"})
    endpoint.refresh_from_db()
    assert not endpoint.enabled and endpoint.disabled_reason == "tidy up"
    assert Delivery.objects.get().state == DeliveryState.CANCELLED


def test_deleting_an_endpoint_asks_and_names_what_stops(acme_admin_client, pending_delivery):
    endpoint = pending_delivery.endpoint
    path = url("domains:endpoint_delete", "acme.com", endpoint.endpoint_id)
    text = page_text(acme_admin_client, path)
    assert "1 pending delivery cancelled" in text and "1 event type no longer sent" in text
    assert "undo this from the domain page for 24 hours" in text
    assert acme_admin_client.post(path).status_code == 400
    assert Endpoint.objects.live().exists()
    confirmed_post(acme_admin_client, path)
    assert not Endpoint.objects.live().exists()


def test_cancelling_a_delivery_asks_first(acme_admin_client, pending_delivery):
    path = url("domains:delivery_cancel", "acme.com", pending_delivery.pk)
    assert "Cancel this delivery?" in page_text(acme_admin_client, path)
    assert acme_admin_client.post(path).status_code == 400
    assert Delivery.objects.get().state == DeliveryState.PENDING
    confirmed_post(acme_admin_client, path)
    assert Delivery.objects.get().state == DeliveryState.CANCELLED


def test_removing_a_co_admin_asks_first(acme, acme_admin_client, acme_teammate):
    services.domain_admin_add(domain=acme, user=acme_teammate, actor=None)
    path = url("domains:admin_remove", "acme.com", acme_teammate.user_id)
    assert acme_teammate.email in page_text(acme_admin_client, path)
    assert acme_admin_client.post(path).status_code == 400
    assert DomainAdministrator.objects.filter(user=acme_teammate).exists()
    confirmed_post(acme_admin_client, path)
    assert not DomainAdministrator.objects.filter(user=acme_teammate).exists()


def test_revoking_a_user_token_asks_first(acme_admin_client, acme_admin):
    token, _ = services.token_issue(kind="user", user=acme_admin, name="ci", actor=None)
    path = url("domains:token_revoke", token.prefix)
    text = page_text(acme_admin_client, path)
    assert f"{token.prefix}… (ci), last used never" in text
    assert acme_admin_client.post(path).status_code == 400
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None
    confirmed_post(acme_admin_client, path)
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None


def test_revoking_a_pacs_token_asks_first(acme_admin_client, integration, pacs_client):
    token = ApiToken.objects.get(kind="pacs")
    path = url("pacs:token_revoke", integration.integration_id, token.prefix)
    assert "A gateway using it gets 401 at once" in page_text(acme_admin_client, path)
    assert acme_admin_client.post(path).status_code == 400
    assert pacs_client.post("/pacs/devices", {"devices": []}, format="json").status_code == 200
    confirmed_post(acme_admin_client, path)
    assert pacs_client.post("/pacs/devices", {"devices": []}, format="json").status_code == 401


def test_rotating_pacs_tokens_asks_and_counts_the_tokens_it_revokes(
    acme_admin_client, integration, pacs_client
):
    path = url("pacs:token_rotate", integration.integration_id)
    assert "1 gateway token revoked at once" in page_text(acme_admin_client, path)
    assert acme_admin_client.post(path).status_code == 400
    assert ApiToken.objects.live().filter(kind="pacs").count() == 1
    answer = confirmed_post(acme_admin_client, path)
    assert answer.context["new_token"].startswith("cpp_")
    assert pacs_client.post("/pacs/devices", {"devices": []}, format="json").status_code == 401


def test_deleting_an_integration_names_every_thing_it_takes(
    acme_admin_client, integration, pacs_client, camera
):
    doors = [{"device_id": "1_1", "device_name": "Front"}, {"device_id": "1_2"}]
    pacs_client.post("/pacs/devices", {"devices": doors}, format="json")
    pacs_services.device_map(device=integration.devices.get(device_id="1_1"), cameras=[camera],
                             actor=None)
    path = url("pacs:delete", integration.integration_id)
    text = page_text(acme_admin_client, path)
    assert "2 devices" in text and "1 door mapping" in text and "0 stored events" in text
    assert "1 gateway token (they answer 401 at once)" in text
    assert acme_admin_client.post(path).status_code == 400
    assert pacs_client.post("/pacs/devices", {"devices": doors}, format="json").status_code == 200
    confirmed_post(acme_admin_client, path)
    assert PacsIntegration.objects.get().deleted_at is not None
    assert pacs_client.post("/pacs/devices", {"devices": doors}, format="json").status_code == 401


def test_a_token_confirms_only_the_thing_it_was_shown_for(acme_admin_client, endpoint_for):
    first = endpoint_for("https://hooks.example.com/a")
    second = endpoint_for("https://hooks.example.com/b")
    shown = acme_admin_client.get(url("domains:endpoint_delete", "acme.com", first.endpoint_id))
    token = shown.context["token"]
    other = url("domains:endpoint_delete", "acme.com", second.endpoint_id)
    assert acme_admin_client.post(other, {"confirmation": token}).status_code == 400
    disable = url("domains:endpoint_disable", "acme.com", first.endpoint_id)
    assert acme_admin_client.post(disable, {"confirmation": token}).status_code == 400
    assert Endpoint.objects.live().filter(enabled=True).count() == 2


def test_the_api_acts_at_once(api, api_endpoint):
    """An API call is deliberate: no confirmation step."""
    answer = api.post(f"/api/endpoints/{api_endpoint['endpoint_id']}/disable", {"reason": "x"})
    assert answer.status_code == 200
    assert not Endpoint.objects.get().enabled


def test_undo_restores_a_deleted_endpoint_and_it_receives_again(
    acme_admin_client, acme, endpoint_for, django_capture_on_commit_callbacks
):
    endpoint = endpoint_for("https://hooks.example.com/in", ["camera.created"])
    callbacks.endpoint_delete(endpoint=endpoint, actor=None)
    publish(domain=acme, type="camera.created", object={"camera": {}})
    assert not Delivery.objects.exists()  # inert at once
    page = page_text(acme_admin_client, url("domains:domain", "acme.com"))
    assert "Recently deleted" in page and "hooks.example.com" in page
    acme_admin_client.post(url("domains:endpoint_restore", "acme.com", endpoint.endpoint_id))
    endpoint.refresh_from_db()
    assert endpoint.deleted_at is None and endpoint.enabled
    publish(domain=acme, type="camera.created", object={"camera": {}})
    assert Delivery.objects.get().endpoint == endpoint
