"""Validation of endpoint input: URL, method, headers, event types, ordering, rate limit,
retry schedule, attempt timeout and payload filter (callbacks/filters.py).

Every function raises ``ValidationError`` with a message naming the problem;
``endpoint_fields_clean`` collects them per field.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

from callbacks import catalog, egress
from callbacks.delivery.policy import RESERVED_HEADERS
from callbacks.filters import clean_filter
from callbacks.models import RATE_LIMIT_MAX, RETRY_ATTEMPTS_MAX, Method, Ordering, Signing
from domains.formats import PORT_NUMBER

# An endpoint URL as the API schema states it too (callbacks.api.serializers): an ASCII host
# name (an internationalized one in its xn-- form) whose last label cannot be read as a
# number, an optional port from 1 to 65535, and no whitespace or control character. A host
# written as an IP address is the SSRF guard's to judge (CALLBACK_ALLOWED_NETWORKS), so the
# pattern leaves those out and clean_url takes the ones the guard allows.
_HOST_LABEL = r"[A-Za-z0-9_-]+"
_HOST_LAST = r"(?:[A-Za-z_-][A-Za-z0-9_-]*|[A-Za-z0-9_-]*[G-WYZg-wyz_-][A-Za-z0-9_-]*)"
_VISIBLE = r"[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
URL_PATTERN = (
    r"^https?://(?:[-!$&'()*+,;=A-Za-z0-9._~%:]*@)?"
    rf"(?:{_HOST_LABEL}\.)*{_HOST_LAST}\.?(?::{PORT_NUMBER})?(?:[/?#]{_VISIBLE}*)?$"
)
_URL = re.compile(URL_PATTERN)
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_BAD_VALUE = re.compile(r"[\r\n\x00]")


def clean_method(value: Any) -> str:
    method = str(value or Method.POST).strip().upper()
    if method not in Method.values:
        raise ValidationError(
            f"{value!r} is not a supported HTTP method; use one of {', '.join(Method.values)}."
        )
    return method


def clean_url(value: Any) -> str:
    """Require an absolute http(s) URL with a host that is not a refused literal address."""
    url = str(value or "").strip()
    if not url:
        raise ValidationError("Enter the endpoint's URL.")
    if len(url) > 2048 or any(ch.isspace() for ch in url):
        raise ValidationError("The URL must be at most 2,048 characters, with no spaces.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        raise ValidationError(f"{url!r} is not a valid URL.") from None
    if parts.scheme not in ("http", "https"):
        raise ValidationError("The URL must start with http:// or https://.")
    if not parts.hostname:
        raise ValidationError("The URL has no host name.")
    try:
        egress.check_url(url)
    except egress.AddressRefused as exc:
        raise ValidationError(
            f"{exc}. Allowed private networks: "
            f"{egress.describe_networks(settings.CALLBACK_ALLOWED_NETWORKS)}."
        ) from None
    if not _URL.fullmatch(_named(url, parts.netloc, parts.hostname)):
        raise ValidationError(
            "Write the URL with an ASCII host name (an internationalized one in its xn-- "
            "form), a port from 1 to 65535 if any, and no control characters."
        )
    return url


def _named(url: str, netloc: str, host: str) -> str:
    """``url`` with a host written as an IP address (the SSRF guard has judged it) replaced by
    a name, so that URL_PATTERN still judges the rest: userinfo, port, path."""
    if egress.literal_address(host) is None:
        return url
    userinfo, at, rest = netloc.rpartition("@")
    end = rest.index("]") + 1 if rest.startswith("[") else len(rest.split(":", 1)[0])
    return url.replace(netloc, f"{userinfo}{at}literal-address{rest[end:]}", 1)


def parse_headers_text(text: str) -> dict[str, str]:
    """Parse headers typed as JSON text, refusing repeated names, then validate them."""
    text = (text or "").strip()
    if not text:
        return {}

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: set[str] = set()
        for name, _ in pairs:
            if name.lower() in seen:
                raise ValidationError(f"The header {name!r} is given twice.")
            seen.add(name.lower())
        return dict(pairs)

    try:
        value = json.loads(text, object_pairs_hook=pairs_hook)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"Headers are not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        ) from None
    return clean_headers(value)


def clean_headers(value: Any) -> dict[str, str]:
    """Require an object of header name to string value, with no reserved names."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationError(
            'Headers must be a JSON object such as {"Authorization": "token XYZPDQ"}.'
        )
    seen: dict[str, str] = {}
    for name, header_value in value.items():
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            raise ValidationError(f"{name!r} is not a valid header name.")
        if name.lower() in RESERVED_HEADERS:
            raise ValidationError(f"The header {name!r} is set by the portal and cannot be given.")
        if name.lower() in seen:
            raise ValidationError(
                f"The headers {seen[name.lower()]!r} and {name!r} differ only by case."
            )
        seen[name.lower()] = name
        if not isinstance(header_value, str):
            raise ValidationError(f"The value of {name!r} must be a string.")
        if _BAD_VALUE.search(header_value):
            raise ValidationError(f"The value of {name!r} contains a line break.")
    size = sum(len(k) + len(v) + 4 for k, v in value.items())
    if size > settings.CALLBACK_HEADERS_MAX_BYTES:
        raise ValidationError(
            f"Headers are too large ({size} bytes; the limit is "
            f"{settings.CALLBACK_HEADERS_MAX_BYTES})."
        )
    return dict(value)


def clean_event_types(value: Any) -> list[str]:
    if not isinstance(value, list | tuple) or not value:
        raise ValidationError("Choose at least one event type.")
    unknown = [v for v in value if v not in catalog.BY_NAME]
    if unknown:
        raise ValidationError(
            f"Unknown event type(s): {', '.join(map(str, unknown))}. Known: "
            f"{', '.join(catalog.NAMES)}."
        )
    return sorted(set(value))


def clean_signing(value: Any) -> str:
    signing = str(value if value not in (None, "") else Signing.HMAC).strip()
    if signing not in Signing.values:
        raise ValidationError(
            f"{value!r} is not a signing choice; use one of {', '.join(Signing.values)}."
        )
    return signing


def clean_ordering(value: Any) -> str:
    ordering = str(value if value not in (None, "") else Ordering.NONE).strip()
    if ordering not in Ordering.values:
        raise ValidationError(
            f"{value!r} is not an ordering; use one of {', '.join(Ordering.values)}."
        )
    return ordering


def clean_rate_limit(value: Any) -> int | None:
    """A whole number of deliveries per second from 1 to RATE_LIMIT_MAX, or none."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValidationError("The rate limit must be a whole number of deliveries per second.")
    try:
        rate = int(str(value).strip()) if not isinstance(value, int | float) else int(value)
    except ValueError:
        raise ValidationError(
            "The rate limit must be a whole number of deliveries per second."
        ) from None
    if not 1 <= rate <= RATE_LIMIT_MAX:
        raise ValidationError(
            f"The rate limit must be from 1 to {RATE_LIMIT_MAX:,} deliveries per second "
            "(leave it empty for none)."
        )
    return rate


def _seconds(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValidationError(f"{what} must be a number of seconds.")
    try:
        seconds = float(str(value).strip()) if isinstance(value, str) else float(value)
    except ValueError:
        raise ValidationError(f"{what} must be a number of seconds, not {value!r}.") from None
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN, infinities
        raise ValidationError(f"{what} must be a number of seconds.")
    return seconds


def clean_retry_schedule(value: Any) -> list[float] | None:
    """Seconds before each attempt (the first usually 0), 1 to RETRY_ATTEMPTS_MAX of them,
    adding up to at most CALLBACK_RETRY_MAX_AGE; a list, or the same comma-separated; empty
    or None: the deployment's schedule."""
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, str):
        value = value.strip().removeprefix("[").removesuffix("]").replace(" ", "").split(",")
    if not isinstance(value, list | tuple):
        raise ValidationError("The retry schedule must be a list of seconds, such as 0, 60, 600.")
    delays = [_seconds(item, "Each delay of the retry schedule") for item in value]
    if len(delays) > RETRY_ATTEMPTS_MAX:
        raise ValidationError(f"The retry schedule may have at most {RETRY_ATTEMPTS_MAX} "
                              f"attempts, not {len(delays)}.")
    if any(delay < 0 for delay in delays):
        raise ValidationError("No delay of the retry schedule may be negative.")
    most = settings.CALLBACK_RETRY_MAX_AGE
    if sum(delays) > most:
        raise ValidationError(
            f"The retry schedule adds up to {sum(delays):,.0f} s; this deployment allows at "
            f"most {most:,.0f} s (CALLBACK_RETRY_MAX_AGE)."
        )
    return [int(d) if d.is_integer() else d for d in delays]


def clean_attempt_timeout(value: Any) -> float | None:
    """An attempt's total deadline, 1 s to CALLBACK_TIMEOUT_MAX; empty or None: the
    deployment's CALLBACK_TIMEOUT."""
    if value is None or value == "":
        return None
    seconds = _seconds(value, "The attempt timeout")
    most = settings.CALLBACK_TIMEOUT_MAX
    if not 1 <= seconds <= most:
        raise ValidationError(f"The attempt timeout must be from 1 to {most:g} seconds "
                              "(CALLBACK_TIMEOUT_MAX); leave it empty for the deployment's.")
    return seconds


CLEANERS = {
    "url": clean_url,
    "method": clean_method,
    "headers": clean_headers,
    "event_types": clean_event_types,
    "ordering": clean_ordering,
    "rate_limit": clean_rate_limit,
    "retry_schedule": clean_retry_schedule,
    "attempt_timeout": clean_attempt_timeout,
    "payload_filter": clean_filter,
    "signing": clean_signing,
}


def endpoint_fields_clean(data: dict[str, Any]) -> dict[str, Any]:
    """Clean each given field; raise one ValidationError naming every bad field."""
    cleaned, errors = {}, {}
    for name, value in data.items():
        cleaner = CLEANERS.get(name)
        if cleaner is None:
            cleaned[name] = value
            continue
        try:
            cleaned[name] = cleaner(value)
        except ValidationError as exc:
            errors[name] = exc.messages
    if errors:
        raise ValidationError(errors)
    return cleaned
