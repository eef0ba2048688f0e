"""In a real browser: the delivery page's copy-as-curl, with real values shown, is signed
at that moment; the copied command, run in a shell against a loopback receiver, passes
Standard Webhooks verification with the body byte for byte, for every method an endpoint
may use (a payload holding ', $ and non-ASCII text; GET and HEAD signed over an empty body,
HEAD sent with --head, which expects no body, so it does not hang as -X HEAD did)."""

from __future__ import annotations

import json
import subprocess

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from callbacks.delivery.claims import claim
from callbacks.delivery.policy import BODYLESS, Result, build_request
from callbacks.delivery.recording import record
from callbacks.models import Delivery, Endpoint, Method
from domains import services
from tests.receiver import Receiver, wait_for

NAME = "O'Brien's $HOME café, 東京 ✓"


def delivered_once(endpoint: Endpoint, acme_admin, box, django_capture_on_commit_callbacks):
    """A camera.created delivery with one recorded attempt (200), sent to nobody."""
    with django_capture_on_commit_callbacks(execute=False):
        services.camera_create(owner=acme_admin, device=box, name=NAME)
    delivery = Delivery.objects.get(endpoint=endpoint)
    [job] = claim([str(delivery.pk)], 1)
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=False):
        record([Result(job=job, request=build_request(job, int(now.timestamp())),
                       started_at=now, finished_at=now, status=200)])
    return delivery


def copied_command(page, delivery: Delivery) -> str:
    """Reveal the real values on the delivery page, click Copy, read the clipboard."""
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(f"/domains/acme.com/deliveries/{delivery.pk}")
    assert "$CAMIO_WEBHOOK_SIGNATURE" in page.locator("pre.curl").first.text_content()
    page.get_by_role("button", name="Show real values in the curl commands").click()
    page.wait_for_selector("text=signed just now")
    page.get_by_role("button", name="Copy").first.click()
    page.wait_for_selector("button.copy:has-text('Copied')")
    return page.evaluate("navigator.clipboard.readText()")


@pytest.mark.parametrize("method", [method.value for method in Method])
@pytest.mark.django_db(transaction=True)
def test_the_copied_curl_verifies(method, signed_in, endpoint_for, acme_admin, box,
                                  django_capture_on_commit_callbacks):
    receiver = Receiver()
    try:
        endpoint = endpoint_for(f"{receiver.url}/in", ["camera.created"], method=method,
                                headers={"Authorization": "token S3CR3T"})
        delivery = delivered_once(endpoint, acme_admin, box, django_capture_on_commit_callbacks)
        command = copied_command(signed_in, delivery)
        lines = command.splitlines()
        verb = "--head" if method == "HEAD" else f"-X {method}"
        assert lines[0].startswith(f"curl {verb} ")
        assert all(line.strip().startswith(("-H '", "--data-binary")) for line in lines[1:])
        subprocess.run(["bash", "-c", command + " --silent --show-error --max-time 10"],
                       check=True, capture_output=True, timeout=30)
        wait_for(lambda: receiver.received, what="the curl request")
        got = receiver.received[0]
        secret = endpoint.current_key().secret
        assert got.method == method and got.headers["authorization"] == "token S3CR3T"
        if method not in BODYLESS:
            assert got.body == bytes(delivery.event.body)  # byte for byte: ', $, non-ASCII
            Webhook(secret).verify(got.body, got.headers)  # raises if it does not
            assert NAME in got.body.decode()
        else:
            # verify() also parses the body as JSON, which GET and HEAD have none of: check
            # the signature and the timestamp's freshness the way it does, without the parse.
            assert got.body == b""
            with pytest.raises(json.JSONDecodeError):
                Webhook(secret).verify(got.body, got.headers)  # signature passed
            assert f"event_id={delivery.event_id}" in got.path
    finally:
        receiver.close()
