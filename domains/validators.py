"""Validators for domain names, e-mail domains, MAC addresses, zone polygons and server
addresses."""

from __future__ import annotations

import ipaddress
import re

from django.core.exceptions import ValidationError

# Free-mail providers: their users share no organisation, so no such domain is
# ever registered or assigned to a user.
PUBLIC_EMAIL_DOMAINS = frozenset(
    [
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "hotmail.co.uk",
        "live.com",
        "msn.com",
        "yahoo.com",
        "yahoo.co.uk",
        "yahoo.co.jp",
        "ymail.com",
        "rocketmail.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "proton.me",
        "protonmail.com",
        "pm.me",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "mail.com",
        "yandex.com",
        "yandex.ru",
        "mail.ru",
        "qq.com",
        "163.com",
        "126.com",
        "sina.com",
        "zoho.com",
        "hey.com",
        "fastmail.com",
        "tutanota.com",
        "tuta.io",
        "mailinator.com",
    ]
)

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_TLD = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")
_MAC_HEX = re.compile(r"^[0-9A-F]{12}$")
_MAC_SEPARATED = re.compile(r"^[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}$")
_LOCAL_CAMERA_ID = re.compile(r"^[0-9A-F]{12}\.\d{1,4}$", re.IGNORECASE)


def normalize_domain_name(value: str) -> str:
    """Return ``value`` as a lower-case ASCII domain name, or raise ValidationError."""
    name = (value or "").strip().rstrip(".").lower()
    if not name:
        raise ValidationError("Enter a domain name such as acme.com.", code="required")
    try:
        name = name.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValidationError(f"{value!r} is not a valid domain name.", code="invalid") from None
    labels = name.split(".")
    if (
        len(name) > 253
        or len(labels) < 2
        or not all(_LABEL.match(label) for label in labels)
        or not _TLD.match(labels[-1])
    ):
        raise ValidationError(
            f"{value!r} is not a valid domain name (expected something like acme.com).",
            code="invalid",
        )
    return name


def validate_not_public_email_domain(name: str) -> None:
    """Refuse free-mail domains such as gmail.com."""
    if name in PUBLIC_EMAIL_DOMAINS:
        raise ValidationError(
            f"{name} is a public e-mail domain; "
            "only an organisation's own domain can be registered.",
            code="public_domain",
        )


def email_domain(email: str) -> str:
    """Return the lower-cased domain part of an e-mail address."""
    return email.rsplit("@", 1)[-1].strip().lower()


def normalize_mac_address(value: str) -> str:
    """Return ``value`` as ``AA:BB:CC:DD:EE:FF`` (blank stays blank), or raise ValidationError."""
    raw = (value or "").strip()
    if not raw:
        return ""
    if _MAC_SEPARATED.match(raw):
        raw = re.sub(r"[:-]", "", raw)
    hexdigits = raw.upper()
    if not _MAC_HEX.match(hexdigits):
        raise ValidationError(
            f"{value!r} is not a MAC address (expected six hex pairs such as AA:BB:CC:DD:EE:FF).",
            code="invalid_mac",
        )
    return ":".join(hexdigits[i : i + 2] for i in range(0, 12, 2))


def validate_local_camera_id(value: str) -> None:
    """Require Camio's local camera id form: the Box MAC in hex, a dot, an index."""
    if value and not _LOCAL_CAMERA_ID.match(value):
        raise ValidationError(
            f"{value!r} is not a local camera id (expected the Box MAC and an index, "
            "such as AABBCCDDEEFF.0).",
            code="invalid_local_camera_id",
        )


# A polygon point's coordinates are at most this in size: far beyond any image, and exact
# both as a float and as the decimal an OpenAPI schema writes (1e22 = 2**22 * 5**22).
MAX_COORDINATE = 1e22


def _is_number(value: object) -> bool:
    """A JSON number of at most MAX_COORDINATE in size (not NaN, not an infinity)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return -MAX_COORDINATE <= value <= MAX_COORDINATE


def validate_polygons(value: object) -> None:
    """Require a non-empty list of polygons, each a list of 3+ ``[x, y]`` points."""
    if not isinstance(value, list) or not value:
        raise ValidationError(
            "Polygons must be a non-empty list of polygons, each a list of [x, y] points.",
            code="invalid_polygons",
        )
    for p_index, polygon in enumerate(value, start=1):
        if not isinstance(polygon, list) or len(polygon) < 3:
            raise ValidationError(
                f"Polygon {p_index} must be a list of at least 3 [x, y] points.",
                code="invalid_polygons",
            )
        for q_index, point in enumerate(polygon, start=1):
            if not (isinstance(point, list) and len(point) == 2 and all(map(_is_number, point))):
                raise ValidationError(
                    f"Polygon {p_index}, point {q_index}: expected [x, y] with two numbers "
                    f"of at most {MAX_COORDINATE:g} in size, got {point!r}.",
                    code="invalid_polygons",
                )


def validate_public_id(value: str) -> None:
    """Allow ids that fit in a URL path segment: letters, digits, ``.``, ``_``, ``:``, ``-``."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:-]*", value or ""):
        raise ValidationError(
            f"{value!r} is not a usable id: use letters, digits, '.', '_', ':' or '-'."
        )


_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$", re.ASCII)
_PORT = re.compile(r"^[0-9]{1,5}$", re.ASCII)


def _host_error(value: str, why: str) -> ValidationError:
    return ValidationError(
        f"{value!r} is not a server address ({why}); expected a host name or address with "
        "an optional port, such as apac.int.acme.com:443, 10.0.0.5 or [2001:db8::1]:8443.",
        code="invalid_server_address",
    )


def _check_host(value: str, host: str) -> None:
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise _host_error(value, "not an IPv6 address in brackets") from None
        return
    labels = host.split(".")
    if len(host) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        raise _host_error(value, "a name is letters, digits and '-' between dots")
    if labels[-1].isdigit():  # no top-level name is all digits: an IPv4 address
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise _host_error(value, "not an IPv4 address") from None


def validate_server_address(value: str) -> None:
    """Require a host name, an IPv4 address or a bracketed IPv6 address, each with an
    optional ``:port`` from 1 to 65535 (a PACS integration's ``source_server``)."""
    host, port = value, None
    if value.startswith("[") and "]" in value:
        end = value.index("]") + 1
        host, rest = value[:end], value[end:]
        if rest and not rest.startswith(":"):
            raise _host_error(value, "only a :port may follow the address")
        port = rest[1:] if rest else None
    elif value.count(":") == 1:
        host, port = value.split(":")
    elif ":" in value:
        raise _host_error(value, "put an IPv6 address in brackets")
    _check_host(value, host)
    if port is not None and not (_PORT.match(port) and 1 <= int(port) <= 65535):
        raise _host_error(value, "a port is a number from 1 to 65535")
