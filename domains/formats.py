"""How values are written out, in one place on the floor: Camio's date form, counts in
words, and which names hold secrets and how their values are masked.

Payloads and callback headers write dates through ``camio_date``; pages, API
answers, the audit log, logs and the attempt log mask through these functions,
so what counts as a secret is decided once.
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Iterable, Mapping
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

MASK = "••••••"
# A TCP port as written in an address or URL: 1 to 65535, no leading zero (a regular
# expression without anchors, so the schema's patterns and clean_url's can embed it).
PORT_NUMBER = (
    r"(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
)
T = TypeVar("T")


def camio_date(moment: datetime.datetime) -> str:
    """Format a time as Camio does: 2021-04-30T19:13:42.317-0000 (UTC, milliseconds)."""
    # isoformat, not strftime: this runs for every attempt sent.
    return moment.astimezone(datetime.UTC).isoformat(timespec="milliseconds")[:23] + "-0000"

SECRET_NAME = re.compile(r"authorization|cookie|token|secret|key|password|signature", re.I)


@functools.lru_cache(maxsize=4096)
def _secret_name(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


def is_secret_name(name: object) -> bool:
    """Whether a header or field called ``name`` holds a secret."""
    return _secret_name(str(name))


def mask_value(name: object, value: T) -> T | str:
    """Return ``value``, or the mask when ``name`` holds a secret."""
    return MASK if is_secret_name(name) else value


def mask_mapping(values: Mapping[str, str] | None) -> dict[str, str]:
    """Return a name → value mapping with secret values masked (names kept)."""
    return {name: mask_value(name, value) for name, value in (values or {}).items()}


def mask_headers(headers: Iterable[tuple[str, str]]) -> list[list[str]]:
    """Return header pairs with secret values masked, as JSON-ready lists."""
    return [[name, mask_value(name, value)] for name, value in headers]


def mask_url(url: str) -> str:
    """Hide ``user:password@`` in a URL."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{MASK}@{host}"))


def counted(number: int, noun: str, plural: str = "") -> str:
    """Say a count the way a person writes it: "1 device", "4,210 stored events",
    "2 pending deliveries" (a consonant's "y" becomes "ies"; other plurals are given)."""
    if number == 1:
        return f"1 {noun}"
    if not plural:
        ies = noun.endswith("y") and noun[-2:-1] not in ("a", "e", "i", "o", "u")
        plural = noun[:-1] + "ies" if ies else noun + "s"
    return f"{number:,} {plural}"
