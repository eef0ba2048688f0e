"""Every destructive action asks first, in a real browser (P13): the first button only opens
a page naming what will be lost (what it would cut off still works), the page's red button
does it, and a deleted integration comes back with Undo."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from callbacks.models import Delivery, DeliveryState, Endpoint
from domains import services
from domains.models import DomainAdministrator

pytestmark = pytest.mark.django_db(transaction=True)

DEVICES = {"devices": [{"device_id": "1_1", "device_name": "Front"}]}


def asks(page, first: str, title: str, *lost: str) -> None:
    """Press ``first`` (a link or button; on the domain page, in the row's Actions menu)
    and check the confirmation page and its losses."""
    if page.locator("details.menu").count():
        page.locator("details.menu > summary").first.click()
    page.get_by_role("link", name=first).first.click()
    expect(page.locator("main h1")).to_have_text(title)
    for text in lost:
        expect(page.locator("main")).to_contain_text(text)
    expect(page.locator("main button.danger")).to_be_visible()


def test_deleting_an_integration_asks_names_its_losses_and_can_be_undone(
    signed_in, integration, pacs_client
):
    page = signed_in
    assert pacs_client.post("/pacs/devices", DEVICES, format="json").status_code == 200
    page.goto(f"/integrations/pacs/{integration.integration_id}")
    asks(page, "Delete this integration…", "Delete this integration?",
         "1 device", "0 door mappings", "1 gateway token (they answer 401 at once)")
    assert pacs_client.post("/pacs/devices", DEVICES, format="json").status_code == 200
    page.get_by_role("button", name="Delete integration").click()
    expect(page.locator(".messages")).to_contain_text("HQ OnGuard is deleted")
    assert pacs_client.post("/pacs/devices", DEVICES, format="json").status_code == 401
    page.get_by_role("button", name="Undo").click()
    expect(page.locator(".messages")).to_contain_text("HQ OnGuard is restored")
    assert pacs_client.post("/pacs/devices", DEVICES, format="json").status_code == 200


def test_revoking_and_rotating_pacs_tokens_ask_first(signed_in, integration, pacs_client):
    page = signed_in
    page.goto(f"/integrations/pacs/{integration.integration_id}")
    asks(page, "Rotate (revoke the others)…", "Rotate this integration's token?",
         "1 gateway token revoked at once")
    assert pacs_client.post("/pacs/devices", DEVICES, format="json").status_code == 200
    page.get_by_role("link", name="Cancel").click()
    asks(page, "Revoke…", "Revoke this gateway token?", "last used")
    assert pacs_client.post("/pacs/devices", DEVICES, format="json").status_code == 200
    page.get_by_role("button", name="Revoke token").click()
    expect(page.locator(".messages")).to_contain_text("is revoked")
    assert pacs_client.post("/pacs/devices", DEVICES, format="json").status_code == 401
    page.get_by_role("button", name="Create a token").click()
    page.get_by_role("link", name="Rotate (revoke the others)…").click()
    page.get_by_role("button", name=re.compile(r"^Rotate: revoke 1 token")).click()
    expect(page.locator("#new-token")).to_contain_text("cpp_")


def test_revoking_a_user_token_asks_first(signed_in, acme_admin, client_with):
    page = signed_in
    token, raw = services.token_issue(kind="user", user=acme_admin, name="ci", actor=None)
    page.goto("/account/tokens")
    asks(page, "Revoke…", "Revoke this API token?", f"{token.prefix}… (ci)")
    assert client_with(raw).get("/api/endpoints").status_code == 200
    page.get_by_role("button", name="Revoke token").click()
    expect(page.locator(".messages")).to_contain_text("is revoked")
    assert client_with(raw).get("/api/endpoints").status_code == 401


def test_endpoint_disable_and_delete_ask_and_delete_can_be_undone(signed_in, pending_delivery):
    page = signed_in
    page.goto("/domains/acme.com/")
    asks(page, "Disable…", "Disable this endpoint?", "1 pending delivery cancelled")
    assert Endpoint.objects.get().enabled
    page.get_by_label(re.compile("Reason")).fill("moving servers")
    page.get_by_role("button", name="Disable endpoint").click()
    expect(page.locator(".messages")).to_contain_text("1 pending delivery cancelled")
    assert Delivery.objects.get().state == DeliveryState.CANCELLED
    assert Endpoint.objects.get().disabled_reason == "moving servers"
    asks(page, "Delete…", "Delete this endpoint?", "1 event type no longer sent to it")
    assert Endpoint.objects.live().exists()
    page.get_by_role("button", name="Delete endpoint").click()
    expect(page.locator("main")).to_contain_text("Recently deleted")
    assert not Endpoint.objects.live().exists()
    page.get_by_role("button", name="Undo").click()
    expect(page.locator(".messages")).to_contain_text("Endpoint restored")
    assert Endpoint.objects.live().exists()


def test_cancelling_a_delivery_asks_first(signed_in, pending_delivery):
    page = signed_in
    page.goto(f"/domains/acme.com/deliveries/{pending_delivery.pk}")
    asks(page, "Cancel…", "Cancel this delivery?", "no more attempts")
    assert Delivery.objects.get().state == DeliveryState.PENDING
    page.get_by_role("button", name="Cancel delivery").click()
    expect(page.locator(".messages")).to_contain_text("Cancelled: no more attempts")
    assert Delivery.objects.get().state == DeliveryState.CANCELLED


def test_removing_a_co_admin_asks_first(signed_in, acme, acme_teammate):
    services.domain_admin_add(domain=acme, user=acme_teammate, actor=None)
    page = signed_in
    page.goto("/domains/acme.com/")
    asks(page, "Remove…", "Remove this admin?", acme_teammate.email)
    assert DomainAdministrator.objects.filter(user=acme_teammate).exists()
    page.get_by_role("button", name="Remove admin").click()
    expect(page.locator(".messages")).to_contain_text("is no longer an admin")
    assert not DomainAdministrator.objects.filter(user=acme_teammate).exists()


def test_rotating_a_signing_secret_asks_first(signed_in, quiet_endpoint):
    page = signed_in
    before = quiet_endpoint.signing_secrets()
    page.goto(f"/domains/acme.com/endpoints/{quiet_endpoint.endpoint_id}/secret")
    asks(page, "Rotate the secret…", "Rotate the signing secret?",
         "Each secret that signs now:", "The current secret created")
    assert quiet_endpoint.signing_secrets() == before  # the first click changed nothing
    page.get_by_role("button", name="Rotate the secret").click()
    expect(page.locator(".messages")).to_contain_text("New secret issued")
    after = quiet_endpoint.signing_secrets()
    assert len(after) == 2 and after[1] == before[0]  # the old one still signs
