"""Payload filters: which of its subscribed events an endpoint really wants.

An endpoint may carry a filter beside its event types: a JSON object over dotted paths into
the callback's envelope (docs/callbacks.md, "Payload filters"). ``clean_filter`` checks one
and names the path and the operator of what is wrong; ``compile_filter`` turns it into a
PostgreSQL SQL/JSON path predicate and its variables, stored on the endpoint
(``filter_path``, ``filter_vars``). PostgreSQL is the one evaluator: ``publish`` judges
each (event, endpoint) pair in its statement, and a replay, its dry-run count and the
form's "test" button ask the same function of stored events (``matches``).

Every value is passed as a variable (``$v0``, ``$v1``...), never written into the path, so
nothing a user types is parsed as path syntax; path segments are plain names, quoted.
In the path language's lax mode a member step crosses an array, so a path through an
array matches when any element does.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL

# Bounds: a filter is a few clauses, not a program.
FILTER_MAX_BYTES = 4096
FILTER_DEPTH_MAX = 5  # nested objects: $and/$or/$not and operator objects
PATH_SEGMENTS_MAX = 12
IN_VALUES_MAX = 100

_SEGMENT = re.compile(r"^[A-Za-z0-9_-]+$")
LOGICAL = ("$and", "$or", "$not")
OPERATORS = ("$in", "$exists", "$gt", "$lt", "$startsWith")

EXAMPLES = (
    '{"data.object.camera.camera_id": {"$in": ["<camera id>"]}}',
    '{"data.object.previous_attributes.name": {"$exists": true}}',
    '{"data.object.events.camio_metadata.labels": "entry.ajar.started"}',
)


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def clean_filter(value: Any) -> dict[str, Any] | None:
    """A filter as given (a dict, or its JSON text), checked; None or {} for none.

    Raises ValidationError naming the path and the operator of the first problem."""
    if value is None or value == "" or value == {}:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"The filter is not valid JSON: {exc.msg} (line {exc.lineno}, "
                                  f"column {exc.colno}).") from None
        if value == {}:
            return None
    size = len(json.dumps(value, separators=(",", ":")))
    if size > FILTER_MAX_BYTES:
        raise ValidationError(f"The filter is too large ({size:,} bytes; the limit is "
                              f"{FILTER_MAX_BYTES:,}).")
    _check(value, "the filter", 1)
    return value


def _check(value: Any, where: str, depth: int) -> None:
    if depth > FILTER_DEPTH_MAX:
        raise ValidationError(f"The filter is too deep at {where}: at most {FILTER_DEPTH_MAX} "
                              "nested objects.")
    if not isinstance(value, dict) or not value:
        raise ValidationError(f"{where.capitalize()} must be a non-empty JSON object of dotted "
                              f"paths, such as {EXAMPLES[0]}.")
    for key, item in value.items():
        if key in ("$and", "$or"):
            if not isinstance(item, list) or not item:
                raise ValidationError(f"{key} takes a non-empty list of filters.")
            for number, part in enumerate(item):
                _check(part, f"{key}[{number}]", depth + 1)
        elif key == "$not":
            _check(item, "$not", depth + 1)
        elif key.startswith("$"):
            raise ValidationError(f"Unknown operator {key} at the top of {where}; a filter's "
                                  f"keys are dotted paths or {', '.join(LOGICAL)}.")
        else:
            _check_path(key)
            _check_condition(key, item, depth + 1)


def _check_path(path: str) -> None:
    segments = path.split(".")
    if len(segments) > PATH_SEGMENTS_MAX:
        raise ValidationError(f"The path {path!r} has {len(segments)} parts; at most "
                              f"{PATH_SEGMENTS_MAX}.")
    if not all(_SEGMENT.fullmatch(segment) for segment in segments):
        raise ValidationError(f"{path!r} is not a path: write names of letters, digits, _ or "
                              "- joined by dots, such as data.object.camera.camera_id.")


def _check_condition(path: str, condition: Any, depth: int) -> None:
    if _scalar(condition):
        return
    if isinstance(condition, list):
        raise ValidationError(f"At {path}: a list is not a value to compare with; to match "
                              'one of several values write {"$in": [...]}.')
    if depth > FILTER_DEPTH_MAX:
        raise ValidationError(f"The filter is too deep at {path}: at most {FILTER_DEPTH_MAX} "
                              "nested objects.")
    if not condition or not all(str(key).startswith("$") for key in condition):
        raise ValidationError(f"At {path}: give a string, number, boolean or null to compare "
                              f"with, or operators ({', '.join(OPERATORS)}); for a deeper "
                              "field extend the dotted path.")
    for operator, operand in condition.items():
        if operator not in OPERATORS:
            raise ValidationError(f"At {path}: unknown operator {operator}; use one of "
                                  f"{', '.join(OPERATORS)}.")
        if operator == "$in":
            if (not isinstance(operand, list) or not operand
                    or not all(_scalar(v) for v in operand)):
                raise ValidationError(f"At {path}: $in takes a non-empty list of strings, "
                                      "numbers, booleans or nulls.")
            if len(operand) > IN_VALUES_MAX:
                raise ValidationError(f"At {path}: $in takes at most {IN_VALUES_MAX} values, "
                                      f"not {len(operand)}.")
        elif operator == "$exists" and not isinstance(operand, bool):
            raise ValidationError(f"At {path}: $exists takes true or false.")
        elif operator in ("$gt", "$lt") and not _number(operand):
            raise ValidationError(f"At {path}: {operator} takes a number.")
        elif operator == "$startsWith" and not isinstance(operand, str):
            raise ValidationError(f"At {path}: $startsWith takes a string.")


def compile_filter(value: dict[str, Any] | None) -> tuple[str, dict[str, Any] | None]:
    """A checked filter as (SQL/JSON path predicate, its variables); ("", None) for none."""
    if not value:
        return "", None
    variables: dict[str, Any] = {}

    def var(operand: Any) -> str:
        name = f"v{len(variables)}"
        variables[name] = operand
        return f"${name}"

    def all_of(parts: list[str]) -> str:
        return parts[0] if len(parts) == 1 else "(" + " && ".join(parts) + ")"

    def node(filter_: dict[str, Any]) -> str:
        parts = []
        for key, item in filter_.items():
            if key == "$and":
                parts.append(all_of([node(part) for part in item]))
            elif key == "$or":
                parts.append("(" + " || ".join(node(part) for part in item) + ")")
            elif key == "$not":
                parts.append(f"!({node(item)})")
            else:
                parts.append(leaf(key, item))
        return all_of(parts)

    def leaf(path: str, condition: Any) -> str:
        steps = "$" + "".join(f'."{segment}"' for segment in path.split("."))
        conditions = condition if isinstance(condition, dict) else {"$eq": condition}
        tests, parts = [], []
        for operator, operand in conditions.items():
            if operator == "$exists":
                parts.append(f"exists({steps})" if operand else f"!exists({steps})")
            elif operator == "$eq":
                tests.append(f"@ == {var(operand)}")
            elif operator == "$in":
                tests.append("(" + " || ".join(f"@ == {var(v)}" for v in operand) + ")")
            elif operator == "$gt":
                tests.append(f"@ > {var(operand)}")
            elif operator == "$lt":
                tests.append(f"@ < {var(operand)}")
            else:  # $startsWith
                tests.append(f"@ starts with {var(operand)}")
        if tests:  # one element must pass every test
            parts.insert(0, f"exists({steps} ? ({' && '.join(tests)}))")
        return all_of(parts)

    return node(value), variables


# An event's body (bytes of JSON) judged by a compiled filter.
MATCH_SQL = ("jsonb_path_match(convert_from({body}, 'UTF8')::jsonb, {path}::jsonpath, "
             "coalesce({vars}, '{{}}')::jsonb)")


def matches(path: str, variables: dict[str, Any] | None,
            body: str = "callbacks_event.body") -> RawSQL:
    """A condition for an Event queryset: the event passes the compiled filter."""
    sql = MATCH_SQL.format(body=body, path="%s", vars="%s")
    # Fixed text; the path and variables are bound parameters.
    return RawSQL(sql, (path, json.dumps(variables or {})),  # noqa: S611
                  output_field=BooleanField())
