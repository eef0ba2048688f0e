"""Reading the README and the other documents as prose: a section by its heading, a
Markdown table's cells, a block's sentences (tests/test_docs.py)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCUMENTS = [README, *sorted((ROOT / "docs").rglob("*.md"))]

# Words that promise an order of arrival (a sentence holding one must say for which ordering).
ORDER_PROMISE = re.compile(r"\b(first|before|after|then|in order|in the order|commit order)\b")


def section(heading: str, text: str | None = None) -> str:
    """The text under ``## heading`` (any level), up to the next heading, in ``text`` or
    else in the one document (README or docs/) that has that heading."""
    pattern = re.compile(rf"^#+ {re.escape(heading)}\n(.*?)(?=^#+ |\Z)", re.M | re.S)
    texts = [text] if text is not None else [doc.read_text(encoding="utf-8") for doc in DOCUMENTS]
    found = [match.group(1) for match in map(pattern.search, texts) if match is not None]
    assert len(found) == 1, f"{len(found)} sections {heading!r}"
    return found[0]


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*]|\[([^\]]*)\]\([^)]*\)", lambda m: m.group(1) or "", heading)
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors a Markdown file's headings make (outside code blocks)."""
    found: set[str] = set()
    fenced = False
    for line in path.read_text(encoding="utf-8").splitlines():
        fenced = fenced != line.startswith("```")
        if not fenced and (match := re.match(r"#+ (.+)", line)):
            found.add(_slug(match.group(1)))
    return found


LINK = re.compile(r"\]\(([^)\s]+)\)|<img [^>]*src=\"([^\"]+)\"")


def relative_links(path: Path) -> list[str]:
    """The targets of a Markdown file's links and images that are not URLs."""
    targets = [a or b for a, b in LINK.findall(path.read_text(encoding="utf-8"))]
    return [t for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:", t)]


def broken_link(path: Path, target: str) -> str | None:
    """Why ``target`` (relative to ``path``) does not resolve, or None when it does."""
    file_part, _, anchor = target.partition("#")
    where = (path.parent / file_part).resolve() if file_part else path
    if not where.exists():
        return f"{path.relative_to(ROOT)}: {target}: no such file"
    if anchor and where.suffix == ".md" and anchor not in anchors(where):
        return f"{path.relative_to(ROOT)}: {target}: no heading #{anchor}"
    return None


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
