"""Deleting an endpoint or a PACS integration can be undone for UNDO_WINDOW_HOURS (P13):
inert at once, listed under "Recently deleted" with Undo; after the window an integration
is purged with its devices, mappings and tokens, and an endpoint keeps its delivery log."""

from __future__ import annotations

import pytest

from callbacks import services as callbacks
from callbacks.models import Endpoint
from domains.models import ApiToken, AuditEntry
from pacs import services
from pacs.models import PacsDevice, PacsIntegration
from pacs.tasks import retention
from tests.support.clock import move_clock
from tests.support.portal import confirmed_post, url

pytestmark = pytest.mark.django_db

DOORS = [{"device_id": "1_1", "device_name": "Front"}]


def test_undo_inside_the_window_restores_an_integration_with_its_tokens(
    acme_admin_client, integration, pacs_client, camera
):
    pacs_client.post("/pacs/devices", {"devices": DOORS}, format="json")
    services.device_map(device=PacsDevice.objects.get(), cameras=[camera], actor=None)
    confirmed_post(acme_admin_client, url("pacs:delete", integration.integration_id))
    assert pacs_client.post("/pacs/devices", {"devices": DOORS}, format="json").status_code == 401
    assert acme_admin_client.get(url("pacs:integration", integration.integration_id)).status_code \
        == 404
    listing = acme_admin_client.get(url("pacs:list")).content.decode()
    assert "Recently deleted" in listing and "HQ OnGuard" in listing and "Undo" in listing
    acme_admin_client.post(url("pacs:restore", integration.integration_id))
    assert pacs_client.post("/pacs/devices", {"devices": DOORS}, format="json").status_code == 200
    assert acme_admin_client.get(url("pacs:integration", integration.integration_id)).status_code \
        == 200
    assert PacsDevice.objects.get().cameras.get() == camera  # the mapping came back too


def test_after_the_window_an_integration_is_purged_with_devices_mappings_and_tokens(
    acme_admin_client, integration, pacs_client, camera, settings, monkeypatch
):
    pacs_client.post("/pacs/devices", {"devices": DOORS}, format="json")
    services.device_map(device=PacsDevice.objects.get(), cameras=[camera], actor=None)
    services.integration_delete(integration=integration, actor=None)
    move_clock(monkeypatch, settings.UNDO_WINDOW_HOURS + 0.1)
    undo = acme_admin_client.post(url("pacs:restore", integration.integration_id))
    assert undo.status_code == 404  # no longer listed, so nothing to undo
    retention()
    assert not PacsIntegration.objects.exists() and not PacsDevice.objects.exists()
    assert not PacsDevice.cameras.through.objects.exists()
    assert not ApiToken.objects.filter(kind="pacs").exists()
    camera.refresh_from_db()  # the camera itself stays


def test_restoring_after_the_window_is_refused(integration, settings, monkeypatch):
    services.integration_delete(integration=integration, actor=None)
    move_clock(monkeypatch, settings.UNDO_WINDOW_HOURS + 0.1)
    with pytest.raises(Exception, match="undo window has ended"):
        services.integration_restore(integration=integration, actor=None)


def test_a_deleted_endpoint_keeps_its_log_after_the_window(
    acme_admin_client, sent_delivery, settings, monkeypatch
):
    endpoint, delivery = sent_delivery
    callbacks.endpoint_delete(endpoint=endpoint, actor=None)
    move_clock(monkeypatch, settings.UNDO_WINDOW_HOURS + 0.1)
    page = acme_admin_client.get(url("domains:domain", "acme.com")).content.decode()
    assert "Recently deleted" not in page
    undo = acme_admin_client.post(url("domains:endpoint_restore", "acme.com", endpoint.endpoint_id))
    assert undo.status_code == 404 and Endpoint.objects.get().deleted_at is not None
    log = acme_admin_client.get(url("domains:deliveries", "acme.com")).content.decode()
    assert str(delivery.pk)[:8] in log
    assert acme_admin_client.get(url("domains:delivery", "acme.com", delivery.pk)).status_code \
        == 200


def test_an_undo_in_the_window_is_audited_and_keeps_a_disabled_endpoint_disabled(
    acme_admin_client, quiet_endpoint
):
    callbacks.endpoint_disable(endpoint=quiet_endpoint, actor=None, reason="maintenance")
    callbacks.endpoint_delete(endpoint=quiet_endpoint, actor=None)
    acme_admin_client.post(
        url("domains:endpoint_restore", "acme.com", quiet_endpoint.endpoint_id)
    )
    quiet_endpoint.refresh_from_db()
    assert quiet_endpoint.deleted_at is None and not quiet_endpoint.enabled
    assert AuditEntry.objects.filter(action="endpoint.restored").exists()
