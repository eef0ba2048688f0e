"""Reading the README and the other documents as prose: a section by its heading, a
Markdown table's cells, a block's sentences (tests/test_docs.py)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCUMENTS = [README, *sorted((ROOT / "docs").glob("*.md"))]

# Words that promise an order of arrival (a sentence holding one must say for which ordering).
ORDER_PROMISE = re.compile(r"\b(first|before|after|then|in order|in the order|commit order)\b")


def section(heading: str, text: str | None = None) -> str:
    """The README's text under ``### heading`` (or ``## heading``), up to the next heading."""
    text = README.read_text(encoding="utf-8") if text is None else text
    match = re.search(rf"^#+ {re.escape(heading)}\n(.*?)(?=^#+ |\Z)", text, re.M | re.S)
    assert match is not None, f"no section {heading!r}"
    return match.group(1)


def table_cells(text: str) -> list[str]:
    """Every cell of the Markdown tables in ``text`` (rule rows left out)."""
    rows = [line for line in text.splitlines() if line.startswith("|")]
    rows = [row for row in rows if not re.fullmatch(r"[|\s:-]+", row)]  # the rule rows
    return [cell.strip() for row in rows for cell in row.strip("|").split(" | ")]


def blocks(text: str) -> list[str]:
    """Paragraphs, list items and table cells, each as one line."""
    found = []
    for part in re.split(r"\n\s*\n|\n(?=- )", text):
        prose = [line for line in part.splitlines() if not line.startswith("|")]
        found += [*table_cells(part), " ".join(" ".join(prose).split())]
    return [block for block in found if block]


def sentences(text: str) -> list[str]:
    """Sentences and semicolon-separated clauses, whitespace collapsed."""
    flat = " ".join(text.split())
    return [s for s in re.split(r"(?<=[.;])\s+(?=[A-Z`*(])", flat) if s]


def named_paths(text: str) -> list[str]:
    """Repository paths a document names in backticks (``callbacks/delivery/x.py``)."""
    return re.findall(r"`([\w.-]+(?:/[\w.-]+)+\.\w+)`", text)
