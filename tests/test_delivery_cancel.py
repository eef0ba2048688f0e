"""Cancelling one delivery (P8): from the portal, the API and the admin; only a pending
one, audited, and it stays resendable."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from callbacks import services as callbacks
from callbacks.models import Delivery
from domains.models import AuditEntry
from tests.support.portal import admin_action, confirmed_post

pytestmark = pytest.mark.django_db


def test_the_service_cancels_only_pending_ones_and_audits(pending_delivery, acme_admin):
    callbacks.delivery_cancel(delivery=pending_delivery, actor=acme_admin)
    pending_delivery.refresh_from_db()
    assert pending_delivery.state == "cancelled"
    assert pending_delivery.last_error == "Cancelled by hq@acme.com."
    assert AuditEntry.objects.filter(
        action="delivery.cancelled", object_id=str(pending_delivery.pk)
    )
    with pytest.raises(ValidationError, match="Only a pending delivery can be cancelled"):
        callbacks.delivery_cancel(delivery=pending_delivery, actor=acme_admin)
    fresh = callbacks.delivery_resend(delivery=pending_delivery, actor=acme_admin)
    assert fresh.state == "pending"


def test_a_delivery_being_sent_is_not_cancelled(pending_delivery, acme_admin):
    Delivery.objects.filter(pk=pending_delivery.pk).update(state="sending")
    with pytest.raises(ValidationError, match="being sent right now"):
        callbacks.delivery_cancel(delivery=pending_delivery, actor=acme_admin)
    assert Delivery.objects.get(pk=pending_delivery.pk).state == "sending"


def test_the_portal_cancels(client, acme, acme_admin, pending_delivery):
    client.force_login(acme_admin)
    page = client.get(f"/domains/{acme.name}/deliveries/{pending_delivery.pk}").content.decode()
    assert f"/deliveries/{pending_delivery.pk}/cancel" in page
    answer = confirmed_post(
        client, f"/domains/{acme.name}/deliveries/{pending_delivery.pk}/cancel", follow=True
    )
    assert b"Cancelled: no more attempts" in answer.content
    assert Delivery.objects.get(pk=pending_delivery.pk).state == "cancelled"


def test_the_api_cancels_and_refuses_a_finished_one(api, pending_delivery):
    answer = api.post(f"/api/deliveries/{pending_delivery.pk}/cancel")
    assert answer.status_code == 200 and answer.json()["state"] == "cancelled"
    again = api.post(f"/api/deliveries/{pending_delivery.pk}/cancel")
    assert again.status_code == 422
    assert "Only a pending delivery" in again.json()["errors"]["delivery"][0]
    # P21 (5): the schema says so, for cancel and for resend.
    paths = api.get("/api/schema/?format=json").json()["paths"]
    cancel = paths["/api/deliveries/{id}/cancel"]["post"]["responses"]["422"]
    assert "only a pending delivery can be cancelled" in cancel["description"]
    resend = paths["/api/deliveries/{id}/resend"]["post"]["responses"]["422"]
    assert "still being attempted" in resend["description"]


def test_the_admin_cancels(client, support, pending_delivery):
    client.force_login(support)
    admin_action(client, "/admin/callbacks/delivery/", "cancel", [pending_delivery.pk],
                 confirm=True)
    assert Delivery.objects.get(pk=pending_delivery.pk).state == "cancelled"
