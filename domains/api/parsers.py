"""JSON bodies as DRF parses them, minus NUL characters, which PostgreSQL cannot store
in text or jsonb (a request carrying one gets a 400, not a 500 from the database)."""

from __future__ import annotations

import io
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


class StrictJSONParser(JSONParser):
    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: dict | None = None
    ) -> Any:
        raw = stream.read() if stream is not None else b""
        data = super().parse(io.BytesIO(raw), media_type, parser_context)
        # JSON can only carry NUL as the escape \u0000: look closer only when it is there.
        if b"\\u0000" in raw and _has_nul(data):
            raise ParseError("JSON text may not contain NUL (\\u0000) characters.")
        return data
