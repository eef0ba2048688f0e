"""Input fields and serializers that read JSON as the schema describes it.

DRF is lenient where the schema is not: it reads ``5`` as the string ``"5"``, ``"yes"``
as true, ``"5"`` as an integer, a date as a midnight time, and it ignores fields it does
not know. These take each JSON type as written and refuse unknown fields, so a request
the schema forbids answers 400 (``PortalAutoSchema`` states the same rules: patterns,
``additionalProperties: false``)."""

from __future__ import annotations

import datetime
import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from domains.formats import PORT_NUMBER

# Characters Python's str.strip() removes (what a trimmed field reads as blank).
WHITESPACE = r"\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NO_NUL = r"^[^\x00]*$"
NOT_BLANK = rf"^[^\x00]*[^\x00{WHITESPACE}][^\x00]*$"
# A public id as an URL path segment takes it (domains.models.validate_public_id).
PUBLIC_ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"


class FullMatch(RegexValidator):
    """A RegexValidator on the whole value: Python's ``$`` also matches before a final line
    break, ECMA 262's (the schema's) does not. drf-spectacular states its pattern."""

    def __call__(self, value: Any) -> None:
        if not re.compile(self.regex).fullmatch(str(value)):  # compiled already: cached
            raise ValidationError(self.message, code=self.code, params={"value": value})


# A server address as domains.models.validate_server_address takes it: a host name (the
# last label not all digits), an IPv4 address or a bracketed IPv6 address, each with an
# optional :port from 1 to 65535. Built once here so the schema states the same rule.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
_PORT = rf"(?::{PORT_NUMBER})?"


def _ipv6() -> str:
    """Every spelling of an IPv6 address (groups, one ``::``, an IPv4 tail), no zone."""
    h = "[0-9A-Fa-f]{1,4}"
    spellings = [rf"(?:{h}:){{7}}{h}", rf"(?:{h}:){{6}}{_IPV4}"]
    for before in range(8):  # groups before the ::
        head = rf"(?:{h}:){{{before - 1}}}{h}" if before else ""
        tail = rf"(?:{h}(?::{h}){{0,{6 - before}}})?" if before < 7 else ""
        spellings.append(f"{head}::{tail}")
        if before <= 5:
            spellings.append(rf"{head}::(?:{h}:){{0,{5 - before}}}{_IPV4}")
    return "(?:" + "|".join(spellings) + ")"


# A URL whose host urllib.parse finds (domains.models.validate_callback_url): user hooks
# are stored and announced, never called, so any host will do, written in ASCII (urllib
# refuses some other characters, those NFKC turns into a delimiter).
_HOOK_HOST = r'[!-"$-.0-9;->A-Z\\^-~]'  # printable ASCII but # / : ? @ [ ]
_HOOK_USER = r'[!-"$-.0-9:;->@A-Z\\^-~]'  # and : @ (urllib takes the last @)
_HOOK_PORT = r'[!-"$-.0-9:;->A-Z\\^-~]'
HOOK_URL = (
    rf"^https?://(?:{_HOOK_USER}*@)?(?:{_HOOK_HOST}+|\[{_ipv6()}\])(?::{_HOOK_PORT}*)?"
    r"(?:[/?#][^\x00]*)?$"
)
SERVER_NAME = rf"^(?:{_LABEL}\.)*{_LABEL}{_PORT}$"
SERVER_IPV4 = rf"^{_IPV4}{_PORT}$"
SERVER_IPV6 = rf"^\[{_ipv6()}\]{_PORT}$"
# A host name whose last label is all digits is an IPv4 address or nothing.
DIGITS_LAST = r"(?:^|\.)[0-9]+(?::[0-9]*)?$"
SERVER_ADDRESS_SCHEMA = {
    "type": "string",
    "maxLength": 255,
    "anyOf": [
        {"pattern": SERVER_NAME, "not": {"pattern": DIGITS_LAST}, "maxLength": 253},
        {"pattern": SERVER_IPV4},
        {"pattern": SERVER_IPV6},
        {"maxLength": 0},
    ],
}
RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$", re.ASCII
)
DATETIME_HELP = "RFC 3339, with an offset: 2026-11-26T12:00:00Z."


def ecma(pattern: str) -> str:
    """``pattern`` as the schema writes it (as drf-spectacular does a RegexValidator's):
    ``\\uXXXX`` escapes, which Python's re and ECMA 262 both read."""
    return pattern.replace(r"\x", r"\u00")


def parse_rfc3339(value: Any) -> datetime.datetime | None:
    """Return the RFC 3339 time ``value`` in UTC, or None when it is not one.

    A time before year 1 or after year 9999 in UTC (year 1 at +14:00) is read as the
    first or last representable instant: every stored time is after or before it."""
    if not isinstance(value, str) or not RFC3339.match(value):
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value.upper())
    except ValueError:  # a day or an hour that does not exist
        return None
    try:
        return parsed.astimezone(datetime.UTC)
    except OverflowError:
        edge = datetime.datetime.min if parsed.year == 1 else datetime.datetime.max
        return edge.replace(tzinfo=datetime.UTC)


class Text(serializers.CharField):
    """A JSON string (DRF also takes numbers) of at most ``max_length`` as sent (DRF counts
    after trimming); NUL refused, as PostgreSQL cannot store it."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class Pattern(serializers.RegexField):
    """A JSON string matching ``regex`` as sent (not trimmed: the schema's pattern holds),
    all of it: Python's ``$`` also matches before a final line break, ECMA 262's does not."""

    def __init__(self, regex: str, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(regex, **kwargs)
        self.whole = re.compile(regex)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str) or not self.whole.fullmatch(data):
            self.fail("invalid")
        return super().to_internal_value(data)


# An address Django's EmailValidator takes, in the plain spelling (a dot-atom before the @,
# ASCII labels after it, a top-level name of two letters or more); it also takes quoted
# local parts, bracketed addresses and IDN names, which the schema leaves out.
_ATOM = r"[-!#$%&'*+/=?^_`{}|~0-9A-Za-z]+"
EMAIL = (
    rf"^{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+(?:[A-Za-z][A-Za-z-]{{0,61}}[A-Za-z]|xn--[A-Za-z0-9]{{1,59}})$"
)


@extend_schema_field({"type": "string", "format": "email", "pattern": EMAIL, "maxLength": 320})
class Email(serializers.EmailField):
    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class Boolean(serializers.BooleanField):
    """JSON true or false only (DRF also takes "yes", 1, "on", ...)."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class Integer(serializers.IntegerField):
    """A JSON integer: 5, or 5.0 (JSON Schema's integers include it), never "5"."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, float) and data.is_integer():
            data = int(data)
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class DateTime(serializers.DateTimeField):
    """An RFC 3339 time with an offset, in UTC (DRF also takes dates and naive times)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", DATETIME_HELP)
        super().__init__(**kwargs)

    def to_internal_value(self, value: Any) -> datetime.datetime:
        parsed = parse_rfc3339(value)
        if parsed is None:
            self.fail("invalid", format=DATETIME_HELP)
        return parsed


class Mapping(serializers.DictField):
    """A JSON object whose keys match ``key_regex`` (the schema's propertyNames)."""

    def __init__(self, *, key_regex: str, key_message: str, **kwargs: Any) -> None:
        self.key_regex = key_regex
        self.key_validator = FullMatch(key_regex, key_message)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> dict:
        if isinstance(data, dict):
            bad = [key for key in data if not re.fullmatch(self.key_regex, key)]
            if bad:
                raise serializers.ValidationError(
                    {key: [self.key_validator.message] for key in bad[:10]}
                )
        return super().to_internal_value(data)


# Free-form JSON, stated as an unconstrained schema: generators drop a recursive anyOf
# (openapi-python-client removed every route and model that used it). The server's one
# rule for it, no NUL character or lone surrogate anywhere (apikit.parsers), is in
# docs/api.md; every named string states it with its pattern.
JSON_VALUE = {
    "description": "Any JSON value. Its strings may not contain NUL (\\u0000) characters "
    "or lone surrogates; the request is refused with a 400 if one does.",
}


@extend_schema_field(JSON_VALUE, component_name="JsonValue")
class JsonValue(serializers.JSONField):
    """Any JSON value (a batch item the view hands on whole)."""


class Item(serializers.JSONField):
    """A batch item: the service judges each one alone and rejects a bad one by its index
    (the rest are stored), so the schema says ``anyOf: [shape, JsonValue]``."""

    def __init__(self, shape: type[serializers.Serializer], **kwargs: Any) -> None:
        self.shape = shape
        super().__init__(**kwargs)


class LoneItem(serializers.Serializer):
    """A batch's item sent alone as the whole body (a lone report): the item's ``shape``, or
    any object without the batch's ``batch_key``, judged like an item (refused by the
    batch answer, not as malformed). Schema only: see ``schema.LoneItemExtension``."""

    shape: type[serializers.Serializer]
    batch_key: str


# A request body (or one item of it): a JSON object with only the declared fields. (A
# comment: drf-spectacular would print a docstring into every request schema.)
class Input(serializers.Serializer):
    default_error_messages = {"unknown": "Unknown field; this route takes {known}."}

    def to_internal_value(self, data: Any) -> Any:
        value = super().to_internal_value(data)
        unknown = sorted(set(data) - set(self.fields)) if isinstance(data, dict) else []
        if unknown:
            known = ", ".join(self.fields) or "no fields"
            message = self.error_messages["unknown"].format(known=known)
            raise serializers.ValidationError({str(name): [message] for name in unknown[:10]})
        return value
