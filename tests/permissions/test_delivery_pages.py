"""The delivery log, one delivery (and revealing its headers), resending, cancelling and a
test event's result: acme.com's admins only."""

from __future__ import annotations

import pytest

from callbacks.models import Delivery
from domains.models import AuditEntry
from tests.support.portal import confirmed_post, url

pytestmark = pytest.mark.django_db


def test_the_owner_can_read_the_delivery_log(owner_client, delivery):
    assert owner_client.get(url("domains:deliveries", "acme.com")).status_code == 200


def test_a_co_admin_can_read_the_delivery_log(co_admin_client, delivery):
    assert co_admin_client.get(url("domains:deliveries", "acme.com")).status_code == 200


def test_a_teammate_cannot_read_the_delivery_log(teammate_client, delivery):
    assert teammate_client.get(url("domains:deliveries", "acme.com")).status_code == 404


def test_an_outsider_gets_404_for_the_delivery_log(outsider_client, delivery):
    assert outsider_client.get(url("domains:deliveries", "acme.com")).status_code == 404


def test_support_staff_get_404_for_the_delivery_log(support_client, delivery):
    assert support_client.get(url("domains:deliveries", "acme.com")).status_code == 404


def test_the_owner_can_read_an_endpoints_deliveries(owner_client, endpoint):
    log = url("domains:endpoint_deliveries", "acme.com", endpoint.endpoint_id)
    assert owner_client.get(log).status_code == 200


def test_a_teammate_cannot_read_an_endpoints_deliveries(teammate_client, endpoint):
    log = url("domains:endpoint_deliveries", "acme.com", endpoint.endpoint_id)
    assert teammate_client.get(log).status_code == 404


def test_an_outsider_gets_404_for_an_endpoints_deliveries(outsider_client, endpoint):
    log = url("domains:endpoint_deliveries", "acme.com", endpoint.endpoint_id)
    assert outsider_client.get(log).status_code == 404


def test_support_staff_get_404_for_an_endpoints_deliveries(support_client, endpoint):
    log = url("domains:endpoint_deliveries", "acme.com", endpoint.endpoint_id)
    assert support_client.get(log).status_code == 404


def test_the_owner_can_open_a_delivery_and_reveal_its_headers(owner_client, delivery):
    page = url("domains:delivery", "acme.com", delivery.pk)
    assert owner_client.get(page).status_code == 200
    assert owner_client.post(page).status_code == 200
    assert AuditEntry.objects.filter(action="endpoint.headers_revealed").count() == 1


def test_a_teammate_cannot_open_a_delivery_or_reveal_its_headers(teammate_client, delivery):
    page = url("domains:delivery", "acme.com", delivery.pk)
    assert teammate_client.get(page).status_code == 404
    assert teammate_client.post(page).status_code == 404
    assert not AuditEntry.objects.filter(action="endpoint.headers_revealed").exists()


def test_an_outsider_gets_404_for_a_delivery_and_its_headers(outsider_client, delivery):
    page = url("domains:delivery", "acme.com", delivery.pk)
    assert outsider_client.get(page).status_code == 404
    assert outsider_client.post(page).status_code == 404
    assert not AuditEntry.objects.filter(action="endpoint.headers_revealed").exists()


def test_an_outsider_gets_404_for_a_delivery_under_their_own_domain(outsider_client, delivery):
    page = url("domains:delivery", "beta.org", delivery.pk)
    assert outsider_client.get(page).status_code == 404
    assert outsider_client.post(page).status_code == 404
    assert not AuditEntry.objects.filter(action="endpoint.headers_revealed").exists()


def test_support_staff_get_404_for_a_delivery_and_its_headers(support_client, delivery):
    page = url("domains:delivery", "acme.com", delivery.pk)
    assert support_client.get(page).status_code == 404
    assert support_client.post(page).status_code == 404
    assert not AuditEntry.objects.filter(action="endpoint.headers_revealed").exists()


def test_the_owner_can_resend_a_delivery(owner_client, failed_delivery):
    resend = url("domains:delivery_resend", "acme.com", failed_delivery.pk)
    assert owner_client.post(resend).status_code == 302
    assert Delivery.objects.count() == 2


def test_a_teammate_cannot_resend_a_delivery(teammate_client, failed_delivery):
    resend = url("domains:delivery_resend", "acme.com", failed_delivery.pk)
    assert teammate_client.post(resend).status_code == 404
    assert Delivery.objects.count() == 1


def test_an_outsider_gets_404_resending_a_delivery(outsider_client, failed_delivery):
    resend = url("domains:delivery_resend", "acme.com", failed_delivery.pk)
    assert outsider_client.post(resend).status_code == 404
    assert Delivery.objects.count() == 1


def test_support_staff_get_404_resending_a_delivery(support_client, failed_delivery):
    resend = url("domains:delivery_resend", "acme.com", failed_delivery.pk)
    assert support_client.post(resend).status_code == 404
    assert Delivery.objects.count() == 1


def test_the_owner_can_cancel_a_delivery(owner_client, delivery):
    cancel = url("domains:delivery_cancel", "acme.com", delivery.pk)
    assert confirmed_post(owner_client, cancel).status_code == 302
    assert Delivery.objects.get().state == "cancelled"


def test_a_teammate_cannot_cancel_a_delivery(teammate_client, delivery):
    cancel = url("domains:delivery_cancel", "acme.com", delivery.pk)
    assert teammate_client.post(cancel).status_code == 404
    assert Delivery.objects.get().state == "pending"


def test_an_outsider_gets_404_cancelling_a_delivery(outsider_client, delivery):
    cancel = url("domains:delivery_cancel", "acme.com", delivery.pk)
    assert outsider_client.post(cancel).status_code == 404
    assert Delivery.objects.get().state == "pending"


def test_support_staff_get_404_cancelling_a_delivery(support_client, delivery):
    cancel = url("domains:delivery_cancel", "acme.com", delivery.pk)
    assert support_client.post(cancel).status_code == 404
    assert Delivery.objects.get().state == "pending"


def test_the_owner_can_read_a_test_result(owner_client, delivery):
    result = url("domains:test_result", "acme.com", delivery.pk)
    assert owner_client.get(result).status_code == 200
    assert owner_client.get(result, {"format": "json"}).json()["state"] == "pending"


def test_a_teammate_cannot_read_a_test_result(teammate_client, delivery):
    result = url("domains:test_result", "acme.com", delivery.pk)
    assert teammate_client.get(result).status_code == 404
    assert teammate_client.get(result, {"format": "json"}).status_code == 404


def test_an_outsider_gets_404_for_a_test_result(outsider_client, delivery):
    result = url("domains:test_result", "acme.com", delivery.pk)
    assert outsider_client.get(result).status_code == 404
    assert outsider_client.get(result, {"format": "json"}).status_code == 404


def test_support_staff_get_404_for_a_test_result(support_client, delivery):
    result = url("domains:test_result", "acme.com", delivery.pk)
    assert support_client.get(result).status_code == 404
    assert support_client.get(result, {"format": "json"}).status_code == 404
