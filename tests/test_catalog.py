"""The catalog: the seed's 11 types and 5 operational ones, schemas that accept their
examples and the hand-written fixtures."""

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from callbacks import catalog

SEED_TYPES = {
    "camera.created",
    "camera.updated",
    "camera.deleted",
    "device.deleted",
    "hook.created",
    "hook.deleted",
    "incident.created",
    "pacs.events.created",
    "zone.created",
    "zone.updated",
    "zone.deleted",
}
OPERATIONAL_TYPES = {"endpoint.failing", "endpoint.recovered", "endpoint.disabled",
                     "delivery.exhausted", "endpoint.certificate_expiring"}
FIXTURES = Path(__file__).parent / "fixtures" / "events"


def test_the_eleven_types_of_the_seed_and_the_operational_ones():
    assert set(catalog.NAMES) == SEED_TYPES | OPERATIONAL_TYPES
    assert catalog.OPERATIONAL_NAMES == OPERATIONAL_TYPES
    for entry in catalog.EVENT_TYPES:
        assert entry.description and entry.emitted_by


@pytest.mark.parametrize("name", sorted(SEED_TYPES | OPERATIONAL_TYPES))
def test_example_matches_schema(name):
    entry = catalog.get(name)
    Draft202012Validator.check_schema(entry.envelope_schema())
    envelope = {
        "data": {"object": entry.example},
        "id": "f58a5ef2-fbc7-407b-bdeb-536bfde767da",
        "type": name,
    }
    Draft202012Validator(entry.envelope_schema()).validate(envelope)


@pytest.mark.parametrize("name", sorted(SEED_TYPES - {"incident.created"}))
def test_hand_written_fixture_matches_schema(name):
    body = json.loads((FIXTURES / f"{name}.json").read_text())
    body = json.loads(json.dumps(body).replace('"$', '"X'))  # placeholders become strings
    Draft202012Validator(catalog.get(name).envelope_schema()).validate(body)


def test_seed_incident_fields_are_all_in_the_schema():
    seed = json.loads((FIXTURES / "incident.created.json").read_text())
    incident = seed["data"]["object"]["incident"]
    schema = catalog.get("incident.created").object_schema["properties"]["incident"]
    assert set(incident) <= set(schema["properties"])


def test_unknown_type_is_refused():
    with pytest.raises(ValueError, match="is not an event type"):
        catalog.get("camera.exploded")
