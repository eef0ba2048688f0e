"""The portal's PACS pages: connect, token shown once, map a door, see recent events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.urls import reverse

from domains.models import ApiToken
from pacs import services
from pacs.models import EventState, PacsIntegration

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("pacs_labels")]
EVENT = json.loads((Path(__file__).parent / "fixtures" / "pacs" / "onguard.json").read_text())[
    "event"
]


def test_a_user_connects_a_pacs_and_gets_its_token_once(client, acme_teammate):
    client.force_login(acme_teammate)
    bad = client.post(
        reverse("pacs:list"), {"name": "Doors", "vendor": "brivo", "time_zone": "Mars/Base"}
    )
    assert bad.status_code == 200 and bad.context["form"].errors["time_zone"]
    answer = client.post(
        reverse("pacs:list"), {"name": "Doors", "vendor": "brivo", "time_zone": "America/Chicago"}
    )
    integration = PacsIntegration.objects.get()
    assert answer.status_code == 302 and integration.owner == acme_teammate
    page = client.post(reverse("pacs:token_new", args=[integration.integration_id]))
    raw = page.context["new_token"]
    assert raw.startswith("cpp_") and raw in page.content.decode()
    again = client.get(reverse("pacs:integration", args=[integration.integration_id]))
    assert raw not in again.content.decode() and raw[:12] in again.content.decode()
    assert ApiToken.objects.get(prefix=raw[:12]).subject == integration.integration_id


def test_mapping_a_door_keeps_its_events_with_the_camera(client, acme_admin, integration, camera):
    services.devices_replace(
        integration=integration, devices=[{"device_id": "1_1", "device_name": "Rooftop"}]
    )
    client.force_login(acme_admin)
    client.post(
        reverse("pacs:device_map", args=[integration.integration_id, "1_1"]),
        {"cameras": [camera.camera_id]},
    )
    result = services.ingest_events(integration=integration, events=[EVENT])
    assert result.accepted == [0]
    page = client.get(reverse("pacs:integration", args=[integration.integration_id]))
    text = page.content.decode()
    assert "entry.ajar.started" in text and "no: seen by Front Entrance" in text
    assert integration.events.get().state == EventState.MAPPED


def test_the_form_refuses_a_source_server_that_is_no_server_address(client, acme_teammate):
    client.force_login(acme_teammate)
    body = {"name": "Doors", "vendor": "brivo", "time_zone": "UTC"}
    for bad in ("not a host!!", "doors..acme.com", "doors.acme.com:70000"):
        answer = client.post(reverse("pacs:list"), {**body, "source_server": bad})
        assert answer.status_code == 200, bad
        assert answer.context["form"].errors["source_server"], bad
    assert not PacsIntegration.objects.exists()
    answer = client.post(reverse("pacs:list"), {**body, "source_server": "[2001:db8::1]:8443"})
    assert answer.status_code == 302
    assert PacsIntegration.objects.get().source_server == "[2001:db8::1]:8443"


def test_the_detail_form_checks_a_changed_source_server_only(client, acme_admin, integration):
    """A row saved before the check still opens and saves; a new bad value is refused."""
    PacsIntegration.objects.filter(pk=integration.pk).update(source_server="not a host!!")
    client.force_login(acme_admin)
    page = reverse("pacs:integration", args=[integration.integration_id])
    body = {"name": "HQ (renamed)", "vendor": "onguard", "time_zone": "UTC"}
    assert client.get(page).status_code == 200
    renamed = client.post(page, {**body, "source_server": "not a host!!"})
    assert renamed.status_code == 302
    integration.refresh_from_db()
    assert (integration.name, integration.source_server) == ("HQ (renamed)", "not a host!!")
    refused = client.post(page, {**body, "source_server": "still not a host"})
    assert refused.status_code == 200 and refused.context["form"].errors["source_server"]
    integration.refresh_from_db()
    assert integration.source_server == "not a host!!"
