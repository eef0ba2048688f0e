"""A domain admin, in a real browser: find the domain, add an endpoint (fixing an error),
send a test event and watch its result arrive, disable the endpoint."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from callbacks.models import Endpoint


@pytest.mark.django_db(transaction=True)
def test_add_endpoint_and_send_a_test_event(signed_in, worker, receiver, acme):
    page = signed_in
    page.get_by_label("Domain").fill("acme.com")
    page.get_by_role("button", name="Find").click()
    expect(page).to_have_url(re.compile(r"/domains/acme\.com/$"))
    page.goto("/?domain=acme.com")  # Camio's documented short form lands on the same page
    expect(page).to_have_url(re.compile(r"/domains/acme\.com/$"))
    page.get_by_role("link", name="Add endpoint").first.click()

    expect(page.get_by_label("HTTP method")).to_have_value("POST")
    page.get_by_label("URL").fill(receiver.url + "/hook")
    page.get_by_label("HTTP headers (JSON)").fill('{"Authorization": ')
    page.get_by_label(re.compile(r"camera\.created: ")).check()
    page.locator("main").get_by_role("button", name="Add endpoint").click()
    expect(page.locator(".field.has-error")).to_contain_text("HTTP headers (JSON)")
    expect(page.locator(".field.has-error")).to_contain_text("Headers are not valid JSON")
    expect(page.get_by_label("HTTP headers (JSON)")).to_have_value('{"Authorization": ')
    expect(page.get_by_label("URL")).to_have_value(receiver.url + "/hook")  # input kept
    assert not Endpoint.objects.exists()

    page.get_by_label("HTTP headers (JSON)").fill('{"Authorization": "token XYZPDQ"}')
    page.locator("main").get_by_role("button", name="Add endpoint").click()
    expect(page.locator(".messages")).to_contain_text("Endpoint added.")
    expect(page.locator("table.endpoints")).to_contain_text(receiver.url + "/hook")

    page.locator("details.menu > summary").click()  # the row's Actions menu opens
    page.get_by_label("Test event type").select_option("zone.created")
    page.get_by_role("button", name="Send test").click()
    expect(page.locator("#state")).to_have_text("succeeded", timeout=30_000)
    expect(page.locator("#status")).to_have_text("200")
    expect(page.locator("#response")).to_have_text("ok")
    assert receiver.received[0].headers["authorization"] == "token XYZPDQ"

    page.get_by_role("link", name=re.compile(r"^Back to")).click()
    page.locator("details.menu > summary").click()
    page.get_by_role("link", name="Disable…").click()
    expect(page.locator("main h1")).to_have_text("Disable this endpoint?")
    assert Endpoint.objects.get().enabled  # the first click changed nothing
    page.get_by_role("button", name="Disable endpoint").click()
    expect(page.locator(".messages")).to_contain_text("0 pending deliveries cancelled")
    expect(page.locator("table.endpoints")).to_contain_text("disabled")


@pytest.mark.django_db(transaction=True)
def test_keyboard_only_sign_in(page, acme_admin):
    page.goto("/accounts/login/")
    expect(page.get_by_label("Email")).to_be_focused()  # the form focuses its first field
    page.keyboard.type("hq@acme.com")
    page.keyboard.press("Tab")
    page.keyboard.type("correct horse battery")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/domains$"))
    expect(page.get_by_text("hq@acme.com")).to_be_visible()
