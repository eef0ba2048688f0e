"""P17 (4): an egress proxy. With CALLBACK_PROXY_URL set every callback goes through the
proxy, asked for the address the guard checked (an absolute-form request for http, a
CONNECT for https) with the Host header kept; a host in CALLBACK_NO_PROXY goes direct; a
loopback or private destination is refused before the proxy is asked."""

from __future__ import annotations

import pytest

from callbacks import services as callbacks
from callbacks.models import Attempt, Delivery
from domains import services
from tests.receiver import Receiver, wait_for
from tests.support.proxy import LoggingProxy


@pytest.mark.django_db(transaction=True)
def test_callbacks_go_through_the_proxy_to_the_checked_address(
    settings, worker, endpoint_for, box, acme_admin, loopback_names
):
    settings.CALLBACK_RETRY_SCHEDULE = [0]
    loopback_names.update({"receiver.test", "secure.test"})
    proxy, receiver = LoggingProxy(), Receiver()
    settings.CALLBACK_PROXY_URL = proxy.url
    port = int(receiver.url.rsplit(":", 1)[1])
    try:
        plain = endpoint_for(f"http://receiver.test:{port}/in", ["camera.created"])
        secure = endpoint_for(f"https://secure.test:{port}/in", ["camera.created"])
        services.camera_create(owner=acme_admin, device=box, name="Through the proxy")
        wait_for(lambda: Delivery.objects.filter(state__in=["succeeded", "failed"]).count() == 2,
                 timeout=30, what="both deliveries to end")
        # http: the absolute form names the checked address; the Host header is kept.
        assert f"POST http://127.0.0.1:{port}/in" in proxy.log
        [received] = receiver.received
        assert received.headers["host"] == f"receiver.test:{port}"
        assert plain.deliveries.get().state == "succeeded"
        # https: CONNECT to the checked address (the receiver speaks no TLS, so it fails).
        assert f"CONNECT 127.0.0.1:{port}" in proxy.log
        assert secure.deliveries.get().state == "failed"

        # A host in CALLBACK_NO_PROXY goes direct.
        settings.CALLBACK_NO_PROXY = ["receiver.test"]
        asked = len(proxy.log)
        callbacks.endpoint_delete(endpoint=secure, actor=None)
        services.camera_create(owner=acme_admin, device=box, name="Direct")
        wait_for(lambda: len(receiver.received) == 2, timeout=30, what="the direct callback")
        assert len(proxy.log) == asked

        # A loopback destination the guard refuses never reaches the proxy.
        settings.CALLBACK_NO_PROXY, settings.CALLBACK_ALLOWED_NETWORKS = [], []
        services.camera_create(owner=acme_admin, device=box, name="Refused")
        attempt = wait_for(lambda: Attempt.objects.filter(error__startswith="Refused").first(),
                           timeout=30, what="the refused attempt")
        assert "receiver.test resolves to 127.0.0.1, loopback" in attempt.error
        assert len(proxy.log) == asked
    finally:
        proxy.close()
        receiver.close()
