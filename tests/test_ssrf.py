"""Acceptance 6: the SSRF guard at save and at connect time, DNS rebinding included.
No request leaves loopback."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import pytest
from django.core.exceptions import ValidationError

from callbacks import egress
from callbacks.delivery import transport
from callbacks.models import Delivery, Endpoint
from callbacks.services import endpoint_create
from domains import services
from tests.receiver import Receiver, wait_for
from tests.support.ssrf_cases import (
    ACCEPTANCE_URLS,
    MUST_PASS,
    MUST_PASS_NAMES,
    ODD_URLS,
    PUBLIC_ANSWER,
    REFUSED,
    REFUSED_CASES,
    fake_dns,
    job_for,
)


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


@pytest.mark.django_db(transaction=True)
def test_dns_rebinding_is_refused_before_connecting(
    settings, monkeypatch, worker, acme, box, acme_admin
):
    settings.CALLBACK_RETRY_SCHEDULE = [0]
    allowed, loopback = Receiver(host="127.0.0.2"), Receiver(host="127.0.0.1")
    try:
        settings.CALLBACK_ALLOWED_NETWORKS = ["127.0.0.2/32"]
        port = loopback.server.server_address[1]
        monkeypatch.setattr(egress, "getaddrinfo", fake_dns({"rebind.test": "127.0.0.2"}))
        endpoint_create(
            domain=acme,
            url=f"http://rebind.test:{port}/",
            event_types=["camera.created"],
            actor=None,
        )
        monkeypatch.setattr(egress, "getaddrinfo", fake_dns({"rebind.test": "127.0.0.1"}))
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

    monkeypatch.setattr(egress, "getaddrinfo", two_answers)
    with pytest.raises(egress.AddressRefused, match="fd00::1, private"):
        egress.resolve("mixed.example", 443)


# --- Every address that is not globally routable, in every spelling ----------------
#
# Each spelling is refused when saved and again at connect time, with the allow-list
# narrowed to nothing (the test settings allow loopback). The connect-time half runs
# the real transport with the socket's connect patched: nothing may be dialled.


def test_the_table_covers_every_category_three_times():
    assert len(REFUSED_CASES) >= 60
    assert all(len(urls) >= 3 for _, urls in REFUSED.values())


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "fragment"), REFUSED_CASES)
def test_refused_when_saved(nothing_allowed, acme, url, fragment):
    with pytest.raises(ValidationError) as caught:
        endpoint_create(domain=acme, url=url, event_types=["camera.created"], actor=None)
    message = caught.value.message_dict["url"][0]
    assert "which callbacks may not reach" in message and fragment in message
    assert not Endpoint.objects.exists()


@pytest.mark.parametrize(("url", "fragment"), REFUSED_CASES)
def test_refused_at_connect_time_without_dialling(
    nothing_allowed, dialled, public_dns, url, fragment
):
    result = transport.send_one(job_for(url))
    assert result.refused and result.error.startswith("Refused: "), result.error
    assert fragment in result.error and "which callbacks may not reach" in result.error
    assert dialled == [] and public_dns == []


@pytest.mark.parametrize(("url", "fragment"), REFUSED_CASES)
def test_a_name_answering_a_refused_address_is_refused(nothing_allowed, monkeypatch, url, fragment):
    address = egress.literal_address(urlsplit(url).hostname)
    assert address is not None
    family = socket.AF_INET if address.version == 4 else socket.AF_INET6
    sockaddr = (str(address), 443) if address.version == 4 else (str(address), 443, 0, 0)
    monkeypatch.setattr(
        egress, "getaddrinfo", lambda host, port: [(family, socket.SOCK_STREAM, 6, "", sockaddr)]
    )
    with pytest.raises(egress.AddressRefused, match=f"resolves to {address}, ") as caught:
        egress.resolve("hooks.example", 443)
    assert fragment in str(caught.value)


@pytest.mark.django_db
@pytest.mark.parametrize("url", MUST_PASS + MUST_PASS_NAMES)
def test_public_destinations_are_saved(nothing_allowed, acme, url):
    endpoint_create(domain=acme, url=url, event_types=["camera.created"], actor=None)
    assert Endpoint.objects.get().url == url


@pytest.mark.parametrize("url", MUST_PASS)
def test_public_literals_are_dialled_at_connect_time(nothing_allowed, dialled, public_dns, url):
    result = transport.send_one(job_for(url))
    assert not result.refused and result.error == "Connection refused", result.error
    host = egress.literal_address(urlsplit(url).hostname)
    assert [ipaddress.ip_address(address[0]) for address in dialled] == [host]


@pytest.mark.parametrize("url", MUST_PASS_NAMES)
def test_public_names_resolve_through_the_guard(nothing_allowed, dialled, public_dns, url):
    host = urlsplit(url).hostname
    assert egress.resolve(host, 443) == [(socket.AF_INET, PUBLIC_ANSWER)]
    result = transport.send_one(job_for(url))
    assert not result.refused and result.error == "Connection refused", result.error
    assert [address[0] for address in dialled] == [PUBLIC_ANSWER]


@pytest.mark.django_db
@pytest.mark.parametrize("url", ACCEPTANCE_URLS)
def test_embedded_loopback_is_refused_over_the_api(nothing_allowed, api, url):
    response = api.post("/api/endpoints", {"url": url, "event_types": ["camera.created"]})
    # 400: the schema leaves hosts written as IP addresses out of what it promises.
    assert response.status_code == 400
    [message] = response.json()["errors"]["url"]
    assert "which callbacks may not reach" in str(message)
    assert not Endpoint.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("url", ACCEPTANCE_URLS)
def test_embedded_loopback_is_refused_by_the_form(nothing_allowed, client, acme_admin, url):
    client.force_login(acme_admin)
    answer = client.post(
        "/domains/acme.com/endpoints/new",
        {"method": "POST", "url": url, "headers": "", "event_types": ["camera.created"]},
    )
    assert answer.status_code == 400
    [message] = answer.context["form"].errors["url"]
    assert "which callbacks may not reach" in message
    assert not Endpoint.objects.exists()
