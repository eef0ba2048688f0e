"""A captured stream that says it is a terminal, so progress bars draw on it."""

from __future__ import annotations

import io


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True
