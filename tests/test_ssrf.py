"""Acceptance 6: the SSRF guard at save and at connect time, DNS rebinding included.
No request leaves loopback."""

from __future__ import annotations

import socket

import pytest
from django.core.exceptions import ValidationError

from callbacks.delivery import ssrf
from callbacks.models import Delivery, Endpoint
from callbacks.services import endpoint_create
from domains import services
from tests.receiver import Receiver, wait_for

ODD_URLS = [
    "http://2130706433/",
    "http://0x7f.1/",
    "http://[::ffff:127.0.0.1]/",
    "http://169.254.169.254/",
    "http://017700000001/",
    "http://127.1/",
    "http://[::1]/",
    "http://10.0.0.1/",
    "http://[fe80::1]/",
    "http://100.64.0.1/",
    "http://0.0.0.0/",
    "http://[64:ff9b::7f00:1]/",
]


@pytest.fixture
def only_127_0_0_2(settings):
    settings.CALLBACK_ALLOWED_NETWORKS = ["127.0.0.2/32"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", ODD_URLS)
def test_literal_private_addresses_are_refused_when_saved(only_127_0_0_2, acme, url):
    with pytest.raises(ValidationError) as caught:
        endpoint_create(domain=acme, url=url, event_types=["camera.created"], actor=None)
    assert "which callbacks may not reach" in caught.value.message_dict["url"][0]
    assert not Endpoint.objects.exists()


@pytest.mark.django_db
def test_allow_listed_literal_is_accepted(only_127_0_0_2, acme):
    endpoint_create(
        domain=acme, url="http://127.0.0.2:9/", event_types=["camera.created"], actor=None
    )


def fake_dns(answers: dict[str, str]):
    real = ssrf.getaddrinfo

    def resolve(host, port):
        if host in answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]
        return real(host, port)

    return resolve


@pytest.mark.django_db(transaction=True)
def test_dns_rebinding_is_refused_before_connecting(
    settings, monkeypatch, worker, acme, box, acme_admin
):
    settings.CALLBACK_RETRY_SCHEDULE = [0]
    allowed, loopback = Receiver(host="127.0.0.2"), Receiver(host="127.0.0.1")
    try:
        settings.CALLBACK_ALLOWED_NETWORKS = ["127.0.0.2/32"]
        port = loopback.server.server_address[1]
        monkeypatch.setattr(ssrf, "getaddrinfo", fake_dns({"rebind.test": "127.0.0.2"}))
        endpoint_create(
            domain=acme,
            url=f"http://rebind.test:{port}/",
            event_types=["camera.created"],
            actor=None,
        )
        monkeypatch.setattr(ssrf, "getaddrinfo", fake_dns({"rebind.test": "127.0.0.1"}))
        services.camera_create(owner=acme_admin, device=box, name="Rebound")
        delivery = wait_for(
            lambda: Delivery.objects.filter(state="failed").first(), what="the refused delivery"
        )
        attempt = delivery.attempts.get()
        assert attempt.error == (
            "Refused: rebind.test resolves to 127.0.0.1, loopback "
            "(127.0.0.0/8), which callbacks may not reach"
        )
        assert attempt.configuration_error and attempt.response_status is None
        assert loopback.received == [] and allowed.received == []
    finally:
        allowed.close()
        loopback.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433/",
        "http://0x7f.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://169.254.169.254/",
    ],
)
def test_rows_saved_before_narrowing_are_refused_at_send(
    settings, worker, acme, box, acme_admin, url
):
    settings.CALLBACK_RETRY_SCHEDULE = [0]
    settings.CALLBACK_ALLOWED_NETWORKS = ["127.0.0.0/8", "169.254.0.0/16", "::ffff:0:0/96"]
    endpoint_create(domain=acme, url=url, event_types=["camera.created"], actor=None)
    settings.CALLBACK_ALLOWED_NETWORKS = ["127.0.0.2/32"]
    services.camera_create(owner=acme_admin, device=box, name="Narrowed")
    delivery = wait_for(
        lambda: Delivery.objects.filter(state="failed").first(), what="refusal at send time"
    )
    error = delivery.attempts.get().error
    assert error.startswith("Refused: ") and "which callbacks may not reach" in error


def test_guard_checks_every_resolved_address(settings, monkeypatch):
    settings.CALLBACK_ALLOWED_NETWORKS = []

    def two_answers(host, port):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("fd00::1", port, 0, 0)),
        ]

    monkeypatch.setattr(ssrf, "getaddrinfo", two_answers)
    with pytest.raises(ssrf.AddressRefused, match="fd00::1, private"):
        ssrf.resolve("mixed.example", 443)
