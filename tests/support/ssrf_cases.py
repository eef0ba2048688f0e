"""The SSRF tables (tests/test_ssrf.py): URL spellings that must be refused, names that
must pass, and a fake resolver."""

from __future__ import annotations

import datetime
import socket

import pytest

from callbacks import egress
from callbacks.delivery.policy import Job

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


def fake_dns(answers: dict[str, str]):
    real = egress.getaddrinfo

    def resolve(host, port):
        if host in answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]
        return real(host, port)

    return resolve


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


ACCEPTANCE_URLS = [
    "http://[::127.0.0.1]/",
    "http://[2002:7f00:1::]/",
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
]
