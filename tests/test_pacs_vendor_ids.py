"""P9 (4): a vendor's event id is stored whole and duplicates are found on it (by its
digest), never on a cut of it; only a raw field over its own limit is refused, by name;
the migration fills in the digests (and the whole ids) of the events stored before."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
from django.apps import apps
from django.db import IntegrityError, transaction
from django.db.models.functions import Left

from pacs import services
from pacs.models import EventState, PacsEvent, vendor_id_digest
from pacs.vendors.base import MAX_EVENT_ID, MAX_SERIAL, MAX_TEXT
from tests.receiver import wait_for

pytestmark = pytest.mark.usefixtures("pacs_labels")

FIXTURES = Path(__file__).parent / "fixtures" / "pacs"
EVENT = json.loads((FIXTURES / "onguard.json").read_text())["event"]
CONTROLLER = "c" * 125  # "<controller>:<serial>" is 130 characters: it was cut to 128


def long_events() -> list[dict]:
    return [{**EVENT, "controller_id": CONTROLLER, "serial_number": n} for n in (1000, 1001)]


def generic_integration(owner):
    return services.integration_create(owner=owner, vendor="generic", name="Gate")


@pytest.mark.django_db(transaction=True)
def test_two_onguard_events_of_a_long_controller_id_are_both_stored_and_relayed(
    worker, receiver, endpoint_for, pacs_client, integration, settings
):
    settings.PACS_FLUSH_DELAY_MS = 200
    endpoint_for(receiver.url, ["pacs.events.created"])
    answer = pacs_client.post("/pacs/webhooks", {"events": long_events()})
    assert answer.status_code == 202
    assert answer.json() == {"accepted": [0, 1], "duplicates": [], "rejected": []}
    stored = sorted(PacsEvent.objects.values_list("vendor_event_id", flat=True))
    assert stored == [f"{CONTROLLER}:1000", f"{CONTROLLER}:1001"]  # 130 characters, whole

    def relayed() -> list[int]:
        return [
            e["serial_number"]
            for r in receiver.received
            for e in json.loads(r.body)["data"]["object"]["events"]
        ]

    wait_for(lambda: len(relayed()) >= 2, timeout=30, what="both events relayed")
    assert sorted(relayed()) == [1000, 1001]
    assert set(PacsEvent.objects.values_list("state", flat=True)) == {EventState.RELAYED}


@pytest.mark.django_db
def test_the_same_long_id_again_is_a_duplicate(integration):
    assert services.ingest_events(integration=integration, events=long_events()).accepted == [
        0,
        1,
    ]
    again = services.ingest_events(integration=integration, events=long_events()[::-1])
    assert again.duplicates == [0, 1] and again.accepted == []
    assert PacsEvent.objects.count() == 2


@pytest.mark.django_db
def test_generic_event_ids_that_differ_after_128_characters_are_two_events(acme_admin):
    gate = generic_integration(acme_admin)
    base = {"device_id": "gate-1", "timestamp": 1611882873000, "event_type": "door.opened"}
    events = [{**base, "event_id": "e" * 200 + tail} for tail in ("-a", "-b", "-a")]
    result = services.ingest_events(integration=gate, events=events)
    assert result.accepted == [0, 1] and result.duplicates == [2]
    assert sorted(len(i) for i in PacsEvent.objects.values_list("vendor_event_id", flat=True)) == [
        202,
        202,
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"controller_id": "c" * (MAX_TEXT + 1)}, "controller_id"),
        ({"serial_number": "9" * (MAX_SERIAL + 1)}, "serial_number"),
        ({"serial_number": {"n": 1}}, "serial_number"),
    ],
)
def test_an_onguard_field_over_its_own_limit_is_refused_by_name(integration, change, field):
    result = services.ingest_events(integration=integration, events=[{**EVENT, **change}])
    [rejected] = result.rejected
    assert list(rejected["errors"]) == [field], rejected
    assert not PacsEvent.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("vendor", "field", "bad", "good"),
    [
        ("generic", "event_id", "e" * (MAX_EVENT_ID + 1), "e" * MAX_EVENT_ID),
        ("openpath", "id", "o" * (MAX_EVENT_ID + 1), "o" * MAX_EVENT_ID),
        ("brivo", "id", ["not", "an", "id"], 10**30),
    ],
)
def test_a_vendor_event_id_over_its_limit_is_refused_by_name(acme_admin, vendor, field, bad, good):
    event = json.loads((FIXTURES / f"{vendor}.json").read_text())["event"]
    pacs = services.integration_create(owner=acme_admin, vendor=vendor, name=vendor)
    result = services.ingest_events(
        integration=pacs, events=[{**event, field: bad}, {**event, field: good}]
    )
    assert [(r["index"], list(r["errors"])) for r in result.rejected] == [(0, [field])]
    assert result.accepted == [1]
    assert PacsEvent.objects.get().vendor_event_id == str(good)


def test_every_vendors_longest_id_fits_the_column():
    column = PacsEvent._meta.get_field("vendor_event_id").max_length
    assert column >= MAX_TEXT + 1 + MAX_SERIAL  # OnGuard "<controller_id>:<serial_number>"
    assert column >= MAX_EVENT_ID  # Openpath and Brivo id, generic event_id


@pytest.mark.django_db
def test_the_digest_is_unique_per_integration_in_the_database(integration, acme_admin):
    services.ingest_events(integration=integration, events=[EVENT])
    row = PacsEvent.objects.get()
    copy = PacsEvent(
        integration=integration,
        domain_id=row.domain_id,
        vendor_event_id=row.vendor_event_id,
        vendor_event_digest=row.vendor_event_digest,
        entry_id=row.entry_id,
        occurred_at=row.occurred_at,
        body=row.body,
        state=EventState.PENDING,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        copy.save()
    other = services.integration_create(owner=acme_admin, vendor="onguard", name="Annex")
    assert services.ingest_events(integration=other, events=[EVENT]).accepted == [0]


@pytest.mark.django_db
def test_the_migration_fills_in_digests_and_the_ids_that_were_cut(integration):
    services.ingest_events(integration=integration, events=[EVENT, long_events()[0]])
    # As the rows were before the migration: ids cut to 128, no digest.
    PacsEvent.objects.update(vendor_event_id=Left("vendor_event_id", 128), vendor_event_digest="")
    migration = importlib.import_module("pacs.migrations.0004_backfill_vendor_event_digest")
    migration.backfill(apps, None)
    rows = dict(PacsEvent.objects.values_list("vendor_event_id", "vendor_event_digest"))
    assert rows == {
        f"1:{EVENT['serial_number']}": vendor_id_digest(f"1:{EVENT['serial_number']}"),
        f"{CONTROLLER}:1000": vendor_id_digest(f"{CONTROLLER}:1000"),
    }
    again = services.ingest_events(integration=integration, events=long_events())
    assert again.duplicates == [0] and again.accepted == [1]
