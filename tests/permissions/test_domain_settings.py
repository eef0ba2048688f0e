"""The domain page, its settings, and its admins: acme.com's admins, and only the primary
admin adds or removes co-admins."""

from __future__ import annotations

import pytest

from domains.models import Domain, DomainAdministrator
from tests.support.portal import confirmed_post, url

pytestmark = pytest.mark.django_db

QUEUE_40 = {"min_upload_queue_length_for_incident_creation": "40"}


def queue_limit() -> int | None:
    return Domain.objects.get(name="acme.com").min_upload_queue_length_for_incident_creation


def test_the_owner_can_open_the_domain_page(owner_client, acme):
    assert owner_client.get(url("domains:domain", "acme.com")).status_code == 200


def test_a_co_admin_can_open_the_domain_page(co_admin_client, acme):
    assert co_admin_client.get(url("domains:domain", "acme.com")).status_code == 200


def test_a_teammate_cannot_open_the_domain_page(teammate_client, acme):
    assert teammate_client.get(url("domains:domain", "acme.com")).status_code == 404


def test_an_outsider_gets_404_for_the_domain_page(outsider_client, acme):
    assert outsider_client.get(url("domains:domain", "acme.com")).status_code == 404


def test_support_staff_get_404_for_the_domain_page(support_client, acme):
    assert support_client.get(url("domains:domain", "acme.com")).status_code == 404


def test_the_owner_can_change_the_settings(owner_client, acme):
    assert owner_client.post(url("domains:settings", "acme.com"), QUEUE_40).status_code == 302
    assert queue_limit() == 40


def test_a_co_admin_can_change_the_settings(co_admin_client, acme):
    assert co_admin_client.post(url("domains:settings", "acme.com"), QUEUE_40).status_code == 302
    assert queue_limit() == 40


def test_a_teammate_cannot_change_the_settings(teammate_client, acme):
    assert teammate_client.post(url("domains:settings", "acme.com"), QUEUE_40).status_code == 404
    assert queue_limit() is None


def test_an_outsider_gets_404_changing_the_settings(outsider_client, acme):
    assert outsider_client.post(url("domains:settings", "acme.com"), QUEUE_40).status_code == 404
    assert queue_limit() is None


def test_support_staff_get_404_changing_the_settings(support_client, acme):
    assert support_client.post(url("domains:settings", "acme.com"), QUEUE_40).status_code == 404
    assert queue_limit() is None


def test_the_owner_can_add_a_co_admin(owner_client, acme_teammate):
    add = url("domains:admin_add", "acme.com")
    assert owner_client.post(add, {"email": "guard@acme.com"}).status_code == 302
    assert DomainAdministrator.objects.filter(user=acme_teammate).exists()


def test_a_co_admin_is_refused_adding_an_admin(co_admin_client, acme):
    add = url("domains:admin_add", "acme.com")
    assert co_admin_client.post(add, {"email": "new@acme.com"}).status_code == 403
    assert DomainAdministrator.objects.filter(domain=acme).count() == 2


def test_a_teammate_cannot_add_themselves_as_admin(teammate_client, acme_teammate):
    add = url("domains:admin_add", "acme.com")
    assert teammate_client.post(add, {"email": "guard@acme.com"}).status_code == 404
    assert not DomainAdministrator.objects.filter(user=acme_teammate).exists()


def test_an_outsider_gets_404_adding_an_admin(outsider_client, acme):
    add = url("domains:admin_add", "acme.com")
    assert outsider_client.post(add, {"email": "it@beta.org"}).status_code == 404
    assert DomainAdministrator.objects.filter(domain=acme).count() == 1


def test_support_staff_get_404_adding_an_admin(support_client, acme):
    add = url("domains:admin_add", "acme.com")
    assert support_client.post(add, {"email": "new@acme.com"}).status_code == 404
    assert DomainAdministrator.objects.filter(domain=acme).count() == 1


def test_the_owner_can_remove_a_co_admin(owner_client, co_admin):
    remove = url("domains:admin_remove", "acme.com", co_admin.user_id)
    assert confirmed_post(owner_client, remove).status_code == 302
    assert not DomainAdministrator.objects.filter(user=co_admin).exists()


def test_a_co_admin_is_refused_removing_an_admin(co_admin_client, co_admin):
    remove = url("domains:admin_remove", "acme.com", co_admin.user_id)
    assert co_admin_client.post(remove).status_code == 403
    assert DomainAdministrator.objects.filter(user=co_admin).exists()


def test_an_outsider_gets_404_removing_an_admin(outsider_client, co_admin):
    remove = url("domains:admin_remove", "acme.com", co_admin.user_id)
    assert outsider_client.post(remove).status_code == 404
    assert DomainAdministrator.objects.filter(user=co_admin).exists()


def test_support_staff_get_404_removing_an_admin(support_client, co_admin):
    remove = url("domains:admin_remove", "acme.com", co_admin.user_id)
    assert support_client.post(remove).status_code == 404
    assert DomainAdministrator.objects.filter(user=co_admin).exists()
