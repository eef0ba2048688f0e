"""Acceptance 5: each vendor's fixture normalizes to the expected camio_metadata."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from domains.models import User
from pacs import services
from pacs.models import PacsEvent, PacsLabel

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("pacs_labels")]
FIXTURES = Path(__file__).parent / "fixtures" / "pacs"


@pytest.mark.parametrize("vendor", ["onguard", "openpath", "brivo", "generic"])
def test_each_vendor_fixture_normalizes_as_expected(vendor, acme_admin: User):
    fixture = json.loads((FIXTURES / f"{vendor}.json").read_text())
    integration = services.integration_create(
        owner=acme_admin,
        vendor=vendor,
        name=vendor,
        source_server=fixture["source_server"],
        time_zone=fixture["time_zone"],
    )
    result = services.ingest_events(integration=integration, events=[fixture["event"]])
    assert result.accepted == [0], result.rejected
    stored = PacsEvent.objects.get()
    assert stored.body["camio_metadata"] == fixture["expected_metadata"]
    # The vendor's fields stay as they came.
    assert {k: v for k, v in stored.body.items() if k != "camio_metadata"} == fixture["event"]


def test_an_unmapped_code_gets_a_label_from_the_vendors_type(integration):
    event = {**json.loads((FIXTURES / "onguard.json").read_text())["event"], "event_subtype": 99}
    services.ingest_events(integration=integration, events=[event])
    assert PacsEvent.objects.get().labels[1] == "event.4.99"


def test_the_label_map_is_edited_in_the_admin(client, support, integration):
    label = PacsLabel.objects.get(vendor="onguard", code="4/10")
    client.force_login(support)
    answer = client.post(
        f"/admin/pacs/pacslabel/{label.pk}/change/",
        {"vendor": "onguard", "code": "4/10", "label": "door.propped", "description": ""},
    )
    assert answer.status_code == 302, answer.content[:500]
    event = json.loads((FIXTURES / "onguard.json").read_text())["event"]
    services.ingest_events(integration=integration, events=[event])
    assert PacsEvent.objects.get().labels[1] == "door.propped"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"event_subtype": True}, "event_subtype"),
        ({"event_type": 2**70}, "event_type"),
        ({"controller_id": "9" * 100, "device_id": "8" * 100}, "device_id"),
    ],
)
def test_onguard_refuses_what_it_cannot_name(integration, change, field):
    event = {**json.loads((FIXTURES / "onguard.json").read_text())["event"], **change}
    result = services.ingest_events(integration=integration, events=[event])
    assert result.rejected[0]["index"] == 0 and field in result.rejected[0]["errors"]
    assert not PacsEvent.objects.exists()


def test_support_edits_an_integration_in_the_admin(client, support, integration):
    client.force_login(support)
    answer = client.post(
        f"/admin/pacs/pacsintegration/{integration.pk}/change/",
        {
            "name": "Renamed",
            "vendor": "onguard",
            "source_server": "emea.int.acme.com:443",
            "time_zone": "UTC",
            "devices-TOTAL_FORMS": "0",
            "devices-INITIAL_FORMS": "0",
            "devices-MIN_NUM_FORMS": "0",
            "devices-MAX_NUM_FORMS": "1000",
        },
    )
    assert answer.status_code == 302, answer.content[:800]
    integration.refresh_from_db()
    assert (integration.name, integration.source_server) == ("Renamed", "emea.int.acme.com:443")
