"""JSON bodies as DRF parses them, minus NUL characters, which PostgreSQL cannot store
in text or jsonb (a request carrying one gets a 400, not a 500 from the database)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def _problem(value: Any) -> str:
    """What makes ``value`` unstorable: a NUL, or a lone surrogate (not UTF-8)."""
    if isinstance(value, str):
        if "\x00" in value:
            return "JSON text may not contain NUL (\\u0000) characters."
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return "JSON text may not contain lone surrogates (such as \\ud800)."
        return ""
    if isinstance(value, dict):
        return next((p for k, v in value.items() if (p := _problem(k) or _problem(v))), "")
    if isinstance(value, list):
        return next((p for v in value if (p := _problem(v))), "")
    return ""


class StrictJSONParser(JSONParser):
    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
            problem = _problem(data)
        except RecursionError:
            raise ParseError("JSON nested too deeply.") from None
        if problem:
            raise ParseError(problem)
        return data
