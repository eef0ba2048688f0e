"""The domain's audit log: acme.com's admins read it; nobody else, and beta.org's log
holds none of acme.com's entries."""

from __future__ import annotations

import pytest

from tests.support.portal import url

pytestmark = pytest.mark.django_db


def test_the_owner_can_read_the_audit_log(owner_client, endpoint):
    page = owner_client.get(url("domains:audit", "acme.com"))
    assert page.status_code == 200
    assert "endpoint.created" in page.content.decode()


def test_a_co_admin_can_read_the_audit_log(co_admin_client, endpoint):
    page = co_admin_client.get(url("domains:audit", "acme.com"))
    assert page.status_code == 200
    assert "endpoint.created" in page.content.decode()


def test_a_teammate_cannot_read_the_audit_log(teammate_client, endpoint):
    assert teammate_client.get(url("domains:audit", "acme.com")).status_code == 404


def test_an_outsider_gets_404_for_the_audit_log(outsider_client, endpoint):
    assert outsider_client.get(url("domains:audit", "acme.com")).status_code == 404


def test_an_outsiders_own_audit_log_holds_nothing_of_acme(outsider_client, endpoint):
    page = outsider_client.get(url("domains:audit", "beta.org"))
    assert page.status_code == 200
    assert "endpoint.created" not in page.content.decode()


def test_support_staff_get_404_for_the_audit_log(support_client, endpoint):
    assert support_client.get(url("domains:audit", "acme.com")).status_code == 404
