"""The page sweep (P10): every page family of the portal, at a desktop (1366x900) and a
phone (390x844) viewport. On each page:

(a) the document does not scroll sideways (a wide table may scroll inside its own box:
    only the document's scrollWidth counts);
(b) nothing sticks out of a card: no element or text inside a ``.card`` reaches more than
    1 px past the card's right edge, unless it is inside an element that scrolls (or clips)
    sideways;
(c) tables and cards are no wider than their own box; each chart opens on its newest
    hour; a payload never breaks inside its lines; on the domain page every endpoint's
    state and actions menu are inside the window; nothing the page loads answers 404;
(d) axe-core (tests/browser/vendor/, see its README.md) finds no violation of impact
    "serious" or "critical".

The sweep does not stop at the first problem: it visits every page at both widths, then
fails once with the whole list (page, width, problem), grouped by page. The list is printed
(``pytest -s`` shows it), is the failure's message and is written to the test data folder
as ``page-sweep.txt``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings

from tests.support.page_sweep import (
    AXE,
    DELIBERATE_404,
    SIGN_IN,
    VIEWPORTS,
    make_data,
    measure,
    report,
    take_screenshot,
    visits,
)


@pytest.mark.django_db(transaction=True)
def test_every_page_fits_both_viewports_and_has_no_serious_axe_violation(
    browser,
    live_server,
    worker,
    receiver,
    settings,
    acme,
    acme_admin,
    acme_teammate,
    beta,
    support,
    camera,
    integration,
    counter_rules,
    pacs_labels,
):
    assert AXE.exists(), f"{AXE} is missing (see tests/browser/vendor/README.md)"
    settings.CALLBACK_RETRY_SCHEDULE = [0, 0.2]  # the failed delivery fails fast
    started = time.monotonic()
    data = make_data(
        receiver=receiver,
        acme=acme,
        acme_admin=acme_admin,
        acme_teammate=acme_teammate,
        camera=camera,
        integration=integration,
    )
    plan = visits(data)
    problems: list[tuple[str, int, str]] = []
    not_found: list[str] = []  # what answered 404 while a page loaded (its favicon, ...)
    for width, height in VIEWPORTS:
        pages: dict[str, Any] = {}
        contexts = []
        try:
            for visit in plan:
                try:
                    if visit.who not in pages:
                        context = browser.new_context(
                            base_url=live_server.url, viewport={"width": width, "height": height}
                        )
                        context.set_default_timeout(15_000)
                        contexts.append(context)
                        pages[visit.who] = None  # until signed in
                        page = context.new_page()
                        page.on("response", lambda r, seen=not_found: r.status == 404
                                and seen.append(r.url))
                        if SIGN_IN[visit.who]:
                            SIGN_IN[visit.who](page)
                        pages[visit.who] = page
                    page = pages[visit.who]
                    if page is None:
                        raise AssertionError(f"not signed in as the {visit.who}")
                    not_found.clear()
                    visit.go(page)
                    page.wait_for_load_state("load")
                    found = measure(page)
                    found.extend(f"answered 404: {url}" for url in not_found
                                 if not url.endswith(DELIBERATE_404))
                    take_screenshot(page, visit.name, width)
                except Exception as exc:  # one broken page must not hide the others
                    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                    found = [f"could not check the page: {type(exc).__name__}: {first}"]
                problems.extend((visit.name, width, what) for what in found)
        finally:
            for context in contexts:
                context.close()
    text = report(problems, [v.name for v in plan], time.monotonic() - started)
    print(text)
    (Path(django_settings.DATA_DIR) / "page-sweep.txt").write_text(text + "\n")
    if problems:
        pytest.fail(text, pytrace=False)
