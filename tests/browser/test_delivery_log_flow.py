"""In a real browser: a camera changed in the admin shows in the endpoint's delivery log
with its attempt, resend keeps the webhook-id; failed deliveries are replayed once the
receiver is back. Takes the README's screenshots."""

from __future__ import annotations

import re
import socket

import pytest
from playwright.sync_api import expect

from callbacks.models import Delivery
from domains import services
from tests.receiver import Receiver, wait_for
from tests.support.page_sweep import history
from tests.support.screens import screenshot


@pytest.mark.django_db(transaction=True)
def test_log_resend_and_screenshots(
    signed_in, worker, receiver, endpoint_for, camera, acme_admin
):
    page = signed_in
    endpoint = endpoint_for(receiver.url + "/hook", ["camera.updated"])
    services.camera_update(camera=camera, actor=acme_admin, changes={"name": "Lobby"})
    wait_for(lambda: Delivery.objects.filter(state="succeeded").exists(), what="delivered")

    page.goto("/domains/acme.com/")
    expect(page.locator("table.endpoints")).to_contain_text("succeeded camera.updated")
    expect(page.locator("figure.chart svg").first).to_be_visible()
    # The chart's earlier hours, for the screenshot: a day of traffic as the recorder
    # would have rolled it up (this hour's figures are the real delivery's).
    history(endpoint)
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto("/domains/acme.com/")
    assert screenshot(page, "domain-page.png").stat().st_size > 10_000
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/domains/acme.com/")
    assert screenshot(page, "domain-page-phone.png").stat().st_size > 10_000
    page.set_viewport_size({"width": 1366, "height": 900})

    page.locator("details.menu > summary").click()
    page.get_by_role("link", name="Deliveries").click()
    expect(page).to_have_url(re.compile(rf"/endpoints/{endpoint.endpoint_id}/deliveries$"))
    assert screenshot(page, "delivery-log.png").stat().st_size > 10_000
    page.locator("table.log a").first.click()
    expect(page.get_by_role("heading", name=re.compile("Attempt 1: HTTP 200"))).to_be_visible()
    assert screenshot(page, "delivery-page.png").stat().st_size > 10_000
    first_id = receiver.received[0].headers["webhook-id"]
    page.get_by_role("button", name="Resend").click()
    wait_for(lambda: len(receiver.received) == 2, what="the resent callback")
    assert receiver.received[1].headers["webhook-id"] == first_id
    expect(page.locator(".messages")).to_contain_text("Sent again")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.django_db(transaction=True)
def test_failed_deliveries_are_replayed(
    settings, signed_in, worker, endpoint_for, camera, acme_admin
):
    settings.CALLBACK_RETRY_SCHEDULE = [0, 0.2]  # docs/configuration.md: CALLBACK_RETRY_SCHEDULE
    page = signed_in
    port = free_port()  # nothing listens there yet: the receiver is down
    endpoint = endpoint_for(f"http://127.0.0.1:{port}/hook", ["camera.updated"])
    for name in ("One", "Two", "Three"):
        services.camera_update(camera=camera, actor=acme_admin, changes={"name": name})
    wait_for(
        lambda: Delivery.objects.filter(state="failed").count() == 3,
        timeout=30,
        what="three failed deliveries",
    )

    page.goto(f"/domains/acme.com/endpoints/{endpoint.endpoint_id}/replay")
    page.evaluate("""() => {
        const pad = (d) => d.toISOString().slice(0, 16);
        const now = new Date();
        document.getElementById("id_start").value = pad(new Date(now - 3600e3));
        document.getElementById("id_end").value = pad(new Date(now.getTime() + 60e3));
    }""")
    page.get_by_role("button", name="Count").click()
    expect(page.get_by_role("status")).to_contain_text("3 event(s) would be sent")
    receiver = Receiver(port=port)
    try:
        page.get_by_role("button", name="Replay 3 event(s)").click()
        expect(page.locator("#state")).to_have_text("done", timeout=30_000)
        wait_for(lambda: len(receiver.received) == 3, timeout=30, what="three replayed")
        assert len(set(receiver.ids())) == 3
    finally:
        receiver.close()
