"""The documents promise only what the code does: no order for `none` endpoints (P13: a
Box deleted through the API reached a default endpoint as zone, device, camera while the
README promised zones and cameras first), SECURITY.md names files that exist, the README
stays short (P19: 93 KB became 9 KB and pages in docs/) and every relative link resolves."""

from __future__ import annotations

import re

from callbacks import catalog
from tests.support.docs import (
    DOCUMENTS,
    ORDER_PROMISE,
    README,
    ROOT,
    blocks,
    broken_link,
    named_paths,
    relative_links,
    section,
    sentences,
    table_cells,
)

BOX_DELETION = re.compile(
    r"device\.deleted|delet\w* (a|the|its) Box|Box's deletion|Box (was|is) (removed|deleted)", re.I
)
ABOUT_DELIVERY = re.compile(
    r"device\.deleted|\*\.deleted|deliver|arriv|callback|\bsen[dt]\b|\bevents?\b"
)


def test_the_event_type_table_promises_an_order_only_on_per_key_endpoints():
    cells = table_cells(section("Event types"))
    assert any("device_id, name, mac_address" in cell for cell in cells)
    promises = [s for cell in cells for s in sentences(cell) if ORDER_PROMISE.search(s)]
    assert promises, "the table says nothing about the Box's deletions any more"
    assert [s for s in promises if "`per_key`" not in s] == []


def test_the_order_section_promises_nothing_for_none():
    found = blocks(section("Order"))
    [default] = [block for block in found if block.startswith("- `none` (the default")]
    assert "may arrive in any order, even those of one transaction" in default
    assert "No order is promised" in default
    # Outside what is about per_key (its item, the paragraph on what holds back what),
    # every sentence that promises an order says it is per_key's.
    others = [block for block in found if "`per_key`" not in sentences(block)[0]]
    promises = [s for block in others for s in sentences(block) if ORDER_PROMISE.search(s)]
    assert [s for s in promises if "`per_key`" not in s] == []


def test_a_box_deletions_order_is_promised_only_for_per_key_everywhere():
    texts = {doc.name: doc.read_text(encoding="utf-8") for doc in DOCUMENTS}
    texts |= {f"catalog {e.name}": e.description for e in catalog.EVENT_TYPES}
    promises = [
        (where, s)
        for where, text in texts.items()
        for block in blocks(text)
        for s in sentences(block)
        if BOX_DELETION.search(s) and ABOUT_DELIVERY.search(s) and ORDER_PROMISE.search(s)
    ]
    assert any(where == "catalog device.deleted" for where, _ in promises)
    assert ("callbacks.md", "On `per_key` endpoints, deleting a Box delivers its zones' and "
            "cameras' deletions before `device.deleted`.") in promises
    assert [(where, s) for where, s in promises if "per_key" not in s] == []


def test_security_md_names_files_that_exist():
    text = (ROOT / "SECURITY.md").read_text(encoding="utf-8")
    named = named_paths(text)
    assert "callbacks/egress.py" in named  # where the SSRF guard lives
    assert [path for path in named if not (ROOT / path).is_file()] == []


def test_the_readme_stays_under_15000_bytes_and_links_every_reference_page():
    assert len(README.read_bytes()) <= 15_000
    index = ROOT / "docs" / "index.md"
    assert "docs/index.md" in relative_links(README)
    listed = {target.partition("#")[0] for target in relative_links(index)}
    pages = {path.name for path in (ROOT / "docs").glob("*.md")} - {"index.md"}
    assert pages - listed == set(), "docs/index.md does not list these pages"


def test_every_relative_link_in_the_readme_and_docs_resolves():
    documents = [*DOCUMENTS, ROOT / "CONTRIBUTING.md", ROOT / "SECURITY.md"]
    checked = [(doc, target) for doc in documents for target in relative_links(doc)]
    assert len(checked) > 50  # the reader found the links
    assert [why for doc, target in checked if (why := broken_link(doc, target))] == []
