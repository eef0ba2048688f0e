"""The hand-written event fixtures (tests/fixtures/events/), filled in with real ids."""

from __future__ import annotations

import json
from pathlib import Path

FIXTURES = Path(__file__).parents[1] / "fixtures" / "events"


def expected(event_type: str, **ids: str) -> dict:
    """Load a fixture and fill its "$name" placeholders."""

    def fill(value):
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        if isinstance(value, str) and value.startswith("$"):
            return ids[value[1:]]
        return value

    return fill(json.loads((FIXTURES / f"{event_type}.json").read_text()))


def ids_in(value: object, path: str = "") -> dict[str, str]:
    """Every id of a payload: the strings under an ``id`` or ``*_id`` key, by dotted path."""
    if isinstance(value, dict):
        found: dict[str, str] = {}
        for key, item in value.items():
            where = f"{path}.{key}" if path else key
            if isinstance(item, str) and (key == "id" or key.endswith("_id")):
                found[where] = item
            else:
                found |= ids_in(item, where)
        return found
    if isinstance(value, list):
        found = {}
        for index, item in enumerate(value):
            found |= ids_in(item, f"{path}[{index}]")
        return found
    return {}
