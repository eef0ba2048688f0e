"""Acceptance 6: the SSRF guard at save and at connect time, DNS rebinding included.
No request leaves loopback."""

from __future__ import annotations

import datetime
import ipaddress
import socket
from urllib.parse import urlsplit

import pytest
from django.core.exceptions import ValidationError

from callbacks.delivery import transport
from callbacks.delivery.policy import Job
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
    real = transport.getaddrinfo

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
        monkeypatch.setattr(transport, "getaddrinfo", fake_dns({"rebind.test": "127.0.0.2"}))
        endpoint_create(
            domain=acme,
            url=f"http://rebind.test:{port}/",
            event_types=["camera.created"],
            actor=None,
        )
        monkeypatch.setattr(transport, "getaddrinfo", fake_dns({"rebind.test": "127.0.0.1"}))
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

    monkeypatch.setattr(transport, "getaddrinfo", two_answers)
    with pytest.raises(transport.AddressRefused, match="fd00::1, private"):
        transport.resolve("mixed.example", 443)


# --- Every address that is not globally routable, in every spelling ----------------
#
# Each spelling is refused when saved and again at connect time, with the allow-list
# narrowed to nothing (the test settings allow loopback). The connect-time half runs
# the real transport with the socket's connect patched: nothing may be dialled.

REFUSED = {
    # category: (a fragment the refusal must contain, URLs)
    "IPv4 loopback": (
        "loopback (127.0.0.0/8)",
        [
            "http://127.0.0.1/",
            "http://127.1/",
            "http://2130706433/",
            "http://0x7f.0.0.1/",
            "http://0177.0.0.1/",
            "http://127.0.0.1./",
            "http://0x7f000001:8080/",
            "http://127.255.255.254/",
            "http://127\u30020\u30020\u30021/",  # ideographic full stops
            "http://\uff11\uff12\uff17.0.0.1/",  # fullwidth digits
        ],
    ),
    "IPv4 private": (
        "private (",
        [
            "http://10.0.0.1/",
            "http://172.16.0.1/",
            "http://172.31.255.255/",
            "http://192.168.1.1/",
            "http://012.0.0.1/",
            "http://0xc0a80001/",
        ],
    ),
    "CGNAT": (
        "shared address space (CGNAT) (100.64.0.0/10)",
        ["http://100.64.0.1/", "http://100.127.255.254/", "http://100.100.100.200/"],
    ),
    "IPv4 link-local, cloud metadata": (
        "link-local (169.254.0.0/16)",
        [
            "http://169.254.169.254/latest",
            "http://169.254.0.1/",
            "http://0xa9fea9fe/",
            "http://2852039166/",
        ],
    ),
    "this network, unspecified": (
        "(0.0.0.0/",
        ["http://0.0.0.0/", "http://0/", "http://0.1.2.3/", "http://0.0.0.0./"],
    ),
    "IETF protocol assignments (IPv4)": (
        "IETF protocol assignments (192.0.0.0/24)",
        ["http://192.0.0.1/", "http://192.0.0.170/", "http://192.0.0.8/"],
    ),
    "IPv4 documentation": (
        "documentation (",
        ["http://192.0.2.1/", "http://198.51.100.7/", "https://203.0.113.9/"],
    ),
    "IPv4 benchmarking": (
        "benchmarking (198.18.0.0/15)",
        ["http://198.18.0.1/", "http://198.19.255.255/", "http://198.18.100.1/"],
    ),
    "6to4 relay anycast": (
        "6to4 relay anycast (192.88.99.0/24)",
        ["http://192.88.99.0/", "http://192.88.99.1/", "http://192.88.99.255/"],
    ),
    "IPv4 multicast": (
        "multicast (224.0.0.0/4)",
        ["http://224.0.0.1/", "http://239.255.255.250/", "http://233.252.0.1/"],
    ),
    "IPv4 reserved, broadcast": (
        "(2",
        ["http://240.0.0.1/", "http://250.1.2.3/", "http://255.255.255.255/", "http://4294967295/"],
    ),
    "IPv6 loopback, unspecified": (
        "(::",
        ["http://[::1]/", "http://[::]/", "http://[0:0:0:0:0:0:0:1]/", "http://[0::0]:8080/"],
    ),
    "unique local": (
        "private (fc00::/7)",
        ["http://[fd00::1]/", "http://[fc00::1]/", "http://[fdff:ffff::1]/"],
    ),
    "IPv6 link-local": (
        "link-local (fe80::/10)",
        ["http://[fe80::1]/", "http://[fe80::1%25eth0]/", "http://[febf::1]/"],
    ),
    "site-local": (
        "site-local (fec0::/10)",
        ["http://[fec0::1]/", "http://[feff::1]/", "http://[fed0::abc]/"],
    ),
    "IPv6 multicast": (
        "multicast (ff00::/8)",
        ["http://[ff02::1]/", "http://[ff05::1:3]/", "http://[ff0e::1]/"],
    ),
    "IPv4-mapped": (
        "an IPv4-mapped IPv6 address",
        [
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://[::FFFF:10.0.0.1]/",
            "http://[0:0:0:0:0:ffff:169.254.169.254]/",
            "http://[::ffff:8.8.8.8]/",
        ],
    ),
    "IPv4-compatible": (
        "an IPv4-compatible IPv6 address embedding",
        [
            "http://[::127.0.0.1]/",
            "http://[::7f00:1]/",
            "http://[::10.0.0.1]/",
            "http://[::169.254.169.254]/",
        ],
    ),
    "IPv4-translated": (
        "an IPv4-translated IPv6 address embedding",
        [
            "http://[::ffff:0:127.0.0.1]/",
            "http://[::ffff:0:a00:1]/",
            "http://[::ffff:0:169.254.169.254]/",
        ],
    ),
    "6to4 of a refused IPv4": (
        "a 6to4 IPv6 address embedding",
        [
            "http://[2002:7f00:1::]/",
            "http://[2002:a00:1::1]/",
            "http://[2002:a9fe:a9fe::]/",
            "http://[2002:c0a8:101::1]/",
            "http://[2002::]/",
        ],
    ),
    "Teredo": (
        "a Teredo IPv6 address",
        [
            "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
            "http://[2001::1]/",
            "http://[2001:0:4136:e378:8000:63bf:f7f7:f7f7]/",
        ],
    ),
    "NAT64": (
        "NAT64 IPv6 address",
        [
            "http://[64:ff9b::127.0.0.1]/",
            "http://[64:ff9b::7f00:1]/",
            "http://[64:ff9b::808:808]/",
            "http://[64:ff9b:1::1]/",
        ],
    ),
    "discard-only": (
        "discard-only (100::/64)",
        ["http://[100::]/", "http://[100::1]/", "http://[100::ffff:ffff:ffff:ffff]/"],
    ),
    "IPv6 documentation": (
        "documentation (",
        [
            "http://[2001:db8::1]/",
            "http://[2001:db8:85a3::8a2e:370:7334]/",
            "http://[3fff::1]/",
            "http://[3fff:fff::1]/",
        ],
    ),
    "IETF assignments, benchmarking, ORCHID": (
        "(2001:",
        [
            "http://[2001:2::1]/",
            "http://[2001:10::1]/",
            "http://[2001:20::1]/",
            "http://[2001:1::1]/",
            "http://[2001:1ff::1]/",
        ],
    ),
    "outside global unicast": (
        "reserved (outside global unicast 2000::/3)",
        ["http://[5f00::1]/", "http://[4000::1]/", "http://[1::1]/", "http://[e000::1]/"],
    ),
}
REFUSED_CASES = [
    pytest.param(url, fragment, id=f"{category}: {url}")
    for category, (fragment, urls) in REFUSED.items()
    for url in urls
]

# Globally routable, at the edges of the refused ranges too.
MUST_PASS = [
    "http://93.184.215.14/",
    "http://8.8.8.8/",
    "https://1.1.1.1:8443/hook",
    "http://[2606:4700:4700::1111]/",
    "http://[2001:4860:4860::8888]/",
    "http://[2002:808:808::1]/",  # 6to4 of 8.8.8.8
    "http://100.63.255.255/",
    "http://100.128.0.1/",
    "http://172.15.255.255/",
    "http://172.32.0.1/",
    "http://198.17.255.255/",
    "http://198.20.0.1/",
    "http://223.255.255.255/",
    "http://[2001:200::1]/",
    "http://[2001:db9::1]/",
    "http://[3fff:1000::1]/",
]
MUST_PASS_NAMES = ["https://example.com/", "https://example.com./hook", "http://hooks.acme.com/"]
PUBLIC_ANSWER = "93.184.215.14"


def test_the_table_covers_every_category_three_times():
    assert len(REFUSED_CASES) >= 60
    assert all(len(urls) >= 3 for _, urls in REFUSED.values())


@pytest.fixture
def nothing_allowed(settings):
    settings.CALLBACK_ALLOWED_NETWORKS = []


@pytest.fixture
def dialled(monkeypatch) -> list:
    """Record every connection the process tries, and let none of them happen."""
    calls: list = []

    def connect(sock, address):
        calls.append(address)
        raise ConnectionRefusedError(111, "Connection refused")

    def connect_ex(sock, address):
        calls.append(address)
        return 111

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    return calls


@pytest.fixture
def public_dns(monkeypatch) -> list:
    """Answer every name with one public address; record the names asked."""
    asked: list = []

    def answer(host, port):
        asked.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC_ANSWER, port))]

    monkeypatch.setattr(transport, "getaddrinfo", answer)
    return asked


def job_for(url: str) -> Job:
    now = datetime.datetime.now(datetime.UTC)
    return Job(
        delivery_id="00000000-0000-0000-0000-000000000000",
        endpoint_id=1,
        event_id="evt_ssrf",
        event_type="camera.created",
        event_created_at=now,
        method="POST",
        url=url,
        headers={},
        secrets=["whsec_AAAA"],
        body=b"{}",
        attempt_number=1,
        due_at=now,
        claim_token="00000000-0000-0000-0000-000000000001",
    )


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
    address = transport.literal_address(urlsplit(url).hostname)
    assert address is not None
    family = socket.AF_INET if address.version == 4 else socket.AF_INET6
    sockaddr = (str(address), 443) if address.version == 4 else (str(address), 443, 0, 0)
    monkeypatch.setattr(
        transport, "getaddrinfo", lambda host, port: [(family, socket.SOCK_STREAM, 6, "", sockaddr)]
    )
    with pytest.raises(transport.AddressRefused, match=f"resolves to {address}, ") as caught:
        transport.resolve("hooks.example", 443)
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
    host = transport.literal_address(urlsplit(url).hostname)
    assert [ipaddress.ip_address(address[0]) for address in dialled] == [host]


@pytest.mark.parametrize("url", MUST_PASS_NAMES)
def test_public_names_resolve_through_the_guard(nothing_allowed, dialled, public_dns, url):
    host = urlsplit(url).hostname
    assert transport.resolve(host, 443) == [(socket.AF_INET, PUBLIC_ANSWER)]
    result = transport.send_one(job_for(url))
    assert not result.refused and result.error == "Connection refused", result.error
    assert [address[0] for address in dialled] == [PUBLIC_ANSWER]


ACCEPTANCE_URLS = [
    "http://[::127.0.0.1]/",
    "http://[2002:7f00:1::]/",
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
]


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
