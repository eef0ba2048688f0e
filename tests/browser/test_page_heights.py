"""Long pages stay short (P18): in a 1366x768 window the audit log with 50 entries is at
most 1,920 px tall and the delivery log with 50 rows at most 2,304 px (one line per entry,
not three); /favicon.ico answers, so no page logs a 404 for it."""

from __future__ import annotations

import pytest

from callbacks.models import Delivery
from domains.models import AuditEntry
from tests.support.health import ended_delivery
from tests.support.screens import screenshot

HEIGHT = "() => document.documentElement.scrollHeight"


@pytest.mark.django_db(transaction=True)
def test_fifty_audit_entries_and_fifty_deliveries_fit_their_height(
    signed_in, acme, acme_admin, endpoint_for
):
    from django.utils import timezone

    endpoint = endpoint_for("https://hooks.acme.com/camio/a-rather-long/path/to/the/receiver",
                            ["camera.created"])
    for n in range(60):  # more than a page of each
        AuditEntry.objects.record(
            actor=acme_admin, action="endpoint.updated", obj=endpoint,
            before={"description": f"before {n} " + "long words " * 8, "method": "POST"},
            after={"description": f"after {n} " + "longer words " * 8, "method": "PUT"},
        )
        ended_delivery(endpoint, "failed" if n % 7 == 0 else "succeeded", timezone.now())
    assert Delivery.objects.filter(endpoint=endpoint).count() >= 50
    wide = signed_in
    wide.set_viewport_size({"width": 1366, "height": 768})
    wide.goto("/domains/acme.com/audit")
    assert wide.locator("ol.audit-list > li").count() == 50
    audit = wide.evaluate(HEIGHT)
    screenshot(wide, "audit-log-50-1366.png")
    wide.goto("/domains/acme.com/deliveries")
    assert wide.locator("table.log tbody tr").count() == 50
    log = wide.evaluate(HEIGHT)
    screenshot(wide, "delivery-log-50-1366.png")
    print(f"1366x768: audit log with 50 entries {audit} px, delivery log with 50 rows {log} px")
    assert audit <= 1920 and log <= 2304, (
        f"audit log {audit} px (at most 1,920), delivery log {log} px (at most 2,304)")
    # An entry's change opens under its line, its values wrapped inside the page.
    wide.goto("/domains/acme.com/audit")
    first = wide.locator("details.audit-row").first
    first.locator("summary").click()
    drawer = first.locator("table.changes")
    assert "longer words" in drawer.inner_text()
    box = drawer.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 1366
    assert wide.evaluate("() => document.documentElement.scrollWidth") <= 1366


@pytest.mark.django_db
def test_the_favicon_answers(client):
    answer = client.get("/favicon.ico")
    assert answer.status_code == 200 and answer["Content-Type"] == "image/x-icon"
    assert answer.content[:4] == b"\x00\x00\x01\x00"  # an ICO file
