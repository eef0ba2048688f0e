"""A PACS integration's page, its tokens, its doors and deleting it: its owner and the
domain's admins; not a teammate (unless it is theirs), not another domain, not support."""

from __future__ import annotations

import pytest

from domains.models import ApiToken
from pacs.models import PacsIntegration
from tests.support.portal import confirmed_post, url

pytestmark = pytest.mark.django_db

RENAMED = {"name": "Renamed", "vendor": "onguard", "time_zone": "UTC"}


def test_the_owner_can_open_and_rename_their_integration(owner_client, integration):
    page = url("pacs:integration", integration.integration_id)
    assert owner_client.get(page).status_code == 200
    assert owner_client.post(page, RENAMED).status_code == 302
    assert PacsIntegration.objects.get().name == "Renamed"


def test_a_co_admin_can_open_the_domains_integration(co_admin_client, integration):
    page = url("pacs:integration", integration.integration_id)
    assert co_admin_client.get(page).status_code == 200


def test_a_teammate_cannot_open_or_rename_an_admins_integration(teammate_client, integration):
    page = url("pacs:integration", integration.integration_id)
    assert teammate_client.get(page).status_code == 404
    assert teammate_client.post(page, RENAMED).status_code == 404
    assert PacsIntegration.objects.get().name == "HQ OnGuard"


def test_a_teammate_sees_only_their_own_integrations(teammate_client, integration):
    page = teammate_client.get(url("pacs:list"))
    assert page.status_code == 200
    assert integration.integration_id not in page.content.decode()


def test_an_outsider_gets_404_for_an_integration(outsider_client, integration):
    page = url("pacs:integration", integration.integration_id)
    assert outsider_client.get(page).status_code == 404
    assert outsider_client.post(page, RENAMED).status_code == 404
    assert PacsIntegration.objects.get().name == "HQ OnGuard"


def test_support_staff_get_404_for_an_integration(support_client, integration):
    page = url("pacs:integration", integration.integration_id)
    assert support_client.get(page).status_code == 404
    assert support_client.post(page, RENAMED).status_code == 404
    assert PacsIntegration.objects.get().name == "HQ OnGuard"


def test_the_owner_can_issue_a_token(owner_client, integration):
    page = url("pacs:token_new", integration.integration_id)
    assert owner_client.post(page).status_code == 200
    assert ApiToken.objects.filter(subject=integration.integration_id).count() == 1


def test_an_outsider_gets_404_issuing_a_token(outsider_client, integration):
    page = url("pacs:token_new", integration.integration_id)
    assert outsider_client.post(page).status_code == 404
    assert not ApiToken.objects.filter(subject=integration.integration_id).exists()


def test_the_owner_can_revoke_a_token(owner_client, integration, integration_token):
    revoke = url("pacs:token_revoke", integration.integration_id, integration_token.prefix)
    assert confirmed_post(owner_client, revoke).status_code == 302
    assert ApiToken.objects.get(pk=integration_token.pk).revoked_at is not None


def test_a_teammate_cannot_revoke_a_token(teammate_client, integration, integration_token):
    revoke = url("pacs:token_revoke", integration.integration_id, integration_token.prefix)
    assert teammate_client.post(revoke).status_code == 404
    assert ApiToken.objects.get(pk=integration_token.pk).revoked_at is None


def test_an_outsider_gets_404_revoking_a_token(outsider_client, integration, integration_token):
    revoke = url("pacs:token_revoke", integration.integration_id, integration_token.prefix)
    assert outsider_client.post(revoke).status_code == 404
    assert ApiToken.objects.get(pk=integration_token.pk).revoked_at is None


def test_support_staff_get_404_revoking_a_token(support_client, integration, integration_token):
    revoke = url("pacs:token_revoke", integration.integration_id, integration_token.prefix)
    assert support_client.post(revoke).status_code == 404
    assert ApiToken.objects.get(pk=integration_token.pk).revoked_at is None


def test_the_owner_can_map_a_door(owner_client, integration, door, camera):
    mapping = url("pacs:device_map", integration.integration_id, door.device_id)
    assert owner_client.post(mapping, {"cameras": [camera.camera_id]}).status_code == 302
    assert list(door.cameras.all()) == [camera]


def test_a_teammate_cannot_map_a_door(teammate_client, integration, door, camera):
    mapping = url("pacs:device_map", integration.integration_id, door.device_id)
    assert teammate_client.post(mapping, {"cameras": [camera.camera_id]}).status_code == 404
    assert not door.cameras.exists()


def test_an_outsider_gets_404_mapping_a_door(outsider_client, integration, door, camera):
    mapping = url("pacs:device_map", integration.integration_id, door.device_id)
    assert outsider_client.post(mapping, {"cameras": [camera.camera_id]}).status_code == 404
    assert not door.cameras.exists()


def test_support_staff_get_404_mapping_a_door(support_client, integration, door, camera):
    mapping = url("pacs:device_map", integration.integration_id, door.device_id)
    assert support_client.post(mapping, {"cameras": [camera.camera_id]}).status_code == 404
    assert not door.cameras.exists()


def test_the_owner_can_delete_their_integration(owner_client, integration):
    delete = url("pacs:delete", integration.integration_id)
    assert confirmed_post(owner_client, delete).status_code == 302
    assert PacsIntegration.objects.get(pk=integration.pk).deleted_at is not None


def test_a_teammate_cannot_delete_an_admins_integration(teammate_client, integration):
    assert teammate_client.post(url("pacs:delete", integration.integration_id)).status_code == 404
    assert PacsIntegration.objects.live().filter(pk=integration.pk).exists()


def test_an_outsider_gets_404_deleting_an_integration(outsider_client, integration):
    assert outsider_client.post(url("pacs:delete", integration.integration_id)).status_code == 404
    assert PacsIntegration.objects.live().filter(pk=integration.pk).exists()


def test_support_staff_get_404_deleting_an_integration(support_client, integration):
    assert support_client.post(url("pacs:delete", integration.integration_id)).status_code == 404
    assert PacsIntegration.objects.live().filter(pk=integration.pk).exists()
