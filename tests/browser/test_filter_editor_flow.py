"""In a real browser: the endpoint form's payload filter editor. A domain admin types a
filter, presses "Test the filter", sees which of the last events would be delivered
(nothing saved), fixes a malformed filter the page named, and saves the endpoint."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from callbacks.models import Endpoint
from domains import services
from tests.support.screens import screenshot


@pytest.mark.django_db(transaction=True)
def test_the_filter_test_button_shows_the_matching_events(signed_in, acme, acme_admin, box,
                                                         tmp_path):
    x = services.camera_create(owner=acme_admin, device=box, name="Front Entrance")
    y = services.camera_create(owner=acme_admin, device=box, name="Loading Dock")
    services.camera_update(camera=x, actor=acme_admin, changes={"name": "Front Door"})
    services.camera_update(camera=y, actor=acme_admin, changes={"name": "Back Dock"})

    page = signed_in
    page.goto("/domains/acme.com/endpoints/new")
    page.get_by_label("URL").fill("https://hooks.acme.com/front")
    page.get_by_label(re.compile(r"camera\.updated: ")).check()
    editor = page.get_by_label("Payload filter (JSON)")
    editor.fill('{"data.object.camera.camera_id": {"$in": "' + x.camera_id + '"}}')
    test = page.get_by_role("button", name=re.compile("Test the filter"))
    test.click()
    expect(page.locator(".field.has-error")).to_contain_text(
        "At data.object.camera.camera_id: $in takes a non-empty list")

    editor.fill(json.dumps({"data.object.camera.camera_id": {"$in": [x.camera_id]}}))
    page.get_by_role("button", name=re.compile("Test the filter")).click()
    preview = page.locator("#filter-preview")
    expect(preview).to_contain_text("1 of the last 2 events of these types would be delivered")
    expect(preview.locator("tr.passes")).to_contain_text("camera Front Door")
    expect(preview.locator("tr.filtered")).to_contain_text("camera Back Dock")
    expect(preview.locator("tr.passes")).to_contain_text("matches")
    assert not Endpoint.objects.exists()  # a test saves nothing
    assert screenshot(page, "filter-test.png").stat().st_size > 10_000
    page.set_viewport_size({"width": 390, "height": 844})
    assert screenshot(page, "filter-test-phone.png").stat().st_size > 10_000
    page.set_viewport_size({"width": 1280, "height": 900})

    expect(editor).to_have_value(json.dumps({"data.object.camera.camera_id":
                                             {"$in": [x.camera_id]}}))  # the typing is kept
    page.locator("main").get_by_role("button", name="Add endpoint").click()
    expect(page.locator(".messages")).to_contain_text("Endpoint added.")
    assert Endpoint.objects.get().payload_filter == {"data.object.camera.camera_id":
                                                     {"$in": [x.camera_id]}}
