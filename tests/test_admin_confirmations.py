"""The admin's destructive actions ask first too (P13): the action's first POST shows a page
naming the selection and what is lost; only its button (with the token) acts."""

from __future__ import annotations

import pytest

from callbacks.models import Delivery, DeliveryState, Endpoint
from domains import services
from domains.models import ApiToken, DomainAdministrator
from pacs.models import PacsIntegration
from tests.support.portal import admin_action as act

pytestmark = pytest.mark.django_db


def test_disabling_endpoints_in_the_admin_asks_first(support_client, pending_delivery):
    endpoint = pending_delivery.endpoint
    page = act(support_client, "/admin/callbacks/endpoint/", "disable", [endpoint.pk])
    assert page.status_code == 200 and "1 pending delivery cancelled" in page.content.decode()
    assert Endpoint.objects.get().enabled
    act(support_client, "/admin/callbacks/endpoint/", "disable", [endpoint.pk], confirm=True)
    assert not Endpoint.objects.get().enabled
    assert Delivery.objects.get().state == DeliveryState.CANCELLED


def test_a_forged_confirmation_is_refused(support_client, pending_delivery):
    endpoint = pending_delivery.endpoint
    data = {"action": "disable", "_selected_action": [endpoint.pk], "confirmation": "forged"}
    answer = support_client.post("/admin/callbacks/endpoint/", data)
    assert answer.status_code == 400 and Endpoint.objects.get().enabled


def test_deleting_an_endpoint_in_the_admin_asks_and_can_be_restored(
    support_client, quiet_endpoint
):
    assert support_client.get(f"/admin/callbacks/endpoint/{quiet_endpoint.pk}/delete/") \
        .status_code == 403  # Django's one-click-after-page delete is off; the action asks
    act(support_client, "/admin/callbacks/endpoint/", "soft_delete", [quiet_endpoint.pk])
    assert Endpoint.objects.live().exists()
    act(support_client, "/admin/callbacks/endpoint/", "soft_delete", [quiet_endpoint.pk],
        confirm=True)
    assert not Endpoint.objects.live().exists()
    support_client.post("/admin/callbacks/endpoint/",
                        {"action": "restore", "_selected_action": [quiet_endpoint.pk], "index": 0})
    assert Endpoint.objects.live().exists()


def test_cancelling_deliveries_in_the_admin_asks_first(support_client, pending_delivery):
    act(support_client, "/admin/callbacks/delivery/", "cancel", [pending_delivery.pk])
    assert Delivery.objects.get().state == DeliveryState.PENDING
    act(support_client, "/admin/callbacks/delivery/", "cancel", [pending_delivery.pk],
        confirm=True)
    assert Delivery.objects.get().state == DeliveryState.CANCELLED


def test_revoking_tokens_in_the_admin_asks_first(support_client, acme_admin):
    token, _ = services.token_issue(kind="user", user=acme_admin, name="ci", actor=None)
    act(support_client, "/admin/domains/apitoken/", "revoke", [token.pk])
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None
    act(support_client, "/admin/domains/apitoken/", "revoke", [token.pk], confirm=True)
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None


def test_rotating_and_deleting_an_integration_in_the_admin_ask_first(
    support_client, integration, pacs_client
):
    changelist = "/admin/pacs/pacsintegration/"
    act(support_client, changelist, "rotate_token", [integration.pk])
    assert ApiToken.objects.live().filter(kind="pacs").count() == 1
    shown = act(support_client, changelist, "rotate_token", [integration.pk], confirm=True)
    assert "cpp_" in shown.content.decode()
    page = act(support_client, changelist, "soft_delete", [integration.pk])
    assert "1 gateway token (they answer 401 at once)" in page.content.decode()
    assert PacsIntegration.objects.live().exists()
    act(support_client, changelist, "soft_delete", [integration.pk], confirm=True)
    assert not PacsIntegration.objects.live().exists()


def test_removing_a_co_admin_in_the_admin_asks_first(support_client, acme, acme_teammate):
    services.domain_admin_add(domain=acme, user=acme_teammate, actor=None)
    form = support_client.get(f"/admin/domains/domain/{acme.pk}/change/").context["adminform"]
    row = DomainAdministrator.objects.get(user=acme_teammate)
    posted = {
        **{k: v for k, v in form.form.initial.items() if isinstance(v, (str, int))},
        "administrators-TOTAL_FORMS": "2", "administrators-INITIAL_FORMS": "2",
        "administrators-MIN_NUM_FORMS": "0", "administrators-MAX_NUM_FORMS": "1000",
        "administrators-0-id": str(DomainAdministrator.objects.get(is_primary=True).pk),
        "administrators-0-domain": str(acme.pk),
        "administrators-1-id": str(row.pk), "administrators-1-domain": str(acme.pk),
        "administrators-1-DELETE": "on",
    }
    path = f"/admin/domains/domain/{acme.pk}/change/"
    asked = support_client.post(path, posted)
    assert asked.status_code == 200 and acme_teammate.email in asked.content.decode()
    assert DomainAdministrator.objects.filter(user=acme_teammate).exists()
    token = asked.context["token"]
    support_client.post(path, {**posted, "confirmation": token})
    assert not DomainAdministrator.objects.filter(user=acme_teammate).exists()
