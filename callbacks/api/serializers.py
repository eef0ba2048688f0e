"""Input and output shapes of the endpoint, event, delivery and event-type routes."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apikit import fields
from callbacks import catalog, validation
from callbacks.models import (
    RATE_LIMIT_MAX,
    RETRY_ATTEMPTS_MAX,
    DeliveryState,
    Endpoint,
    Kind,
    Method,
    Ordering,
    ReplayJob,
    Signing,
    SigningKey,
    SigningScheme,
)
from callbacks.signing import public_key
from domains.formats import MASK, mask_mapping, mask_url

# Header names and values as callbacks.validation takes them (RFC 9110 tokens; no line
# break in a value).
HEADER_NAME = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"
HEADER_VALUE = fields.FullMatch(r"^[^\r\n\x00]*$", "A header value has no line break.")
EVENT_TYPES = [(name, name) for name in catalog.NAMES]
HEADERS_HELP = (
    'Extra request headers, such as {"Authorization": "token XYZPDQ"}. Secret-looking '
    f"values come back as {MASK}; send {MASK} back to keep the stored value."
)


# --- Endpoints -----------------------------------------------------------------


@extend_schema_field(
    {"type": "string", "maxLength": 2048, "pattern": fields.ecma(validation.URL_PATTERN)}
)
class UrlField(fields.Text):
    """An http(s) URL as the services take it (callbacks.validation.clean_url): anything
    else, an address the SSRF guard refuses included, is bad input (400 naming it). The
    schema leaves out hosts written as IP addresses (see validation.URL_PATTERN)."""

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if value != value.strip():  # clean_url would strip it; the schema's pattern does not
            raise serializers.ValidationError("The URL must have no spaces.")
        return value


def _clean_url(value: str) -> None:  # a validator's shape: clean_url's value goes unused
    validation.clean_url(value)


def url_field(**kwargs: Any) -> UrlField:
    return UrlField(
        max_length=2048,
        validators=[_clean_url],
        trim_whitespace=False,
        **kwargs,
    )


def event_types_field(**kwargs: Any) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPES), min_length=1, **kwargs
    )


FILTER_HELP = (
    "A filter on the event's payload, beside the event types: a JSON object of dotted paths "
    "into the envelope, each compared with a value or with operators ($in, $exists, $gt, "
    "$lt, $startsWith), combined with $and, $or and $not; a path through an array matches "
    "when any element does. Only the events that pass are delivered. Null or {} for none. "
    'Example: {"data.object.camera.camera_id": {"$in": ["<camera id>"]}} (docs/callbacks.md, '
    '"Payload filters").'
)


@extend_schema_field({"description": "Any JSON value: the service judges it (a payload "
                               "filter, or null for none)."})
class FilterValue(serializers.JSONField):
    """A payload filter: an unconstrained JSON value in the schema (null included, so no
    ``oneOf`` with null beside it), judged by the service."""

    def validate_empty_values(self, data: Any) -> tuple[bool, Any]:
        if data is None:
            return True, None
        return super().validate_empty_values(data)


class EndpointChangeIn(fields.Input):
    url = url_field(required=False)
    method = serializers.ChoiceField(choices=Method.choices, required=False)
    headers = fields.Mapping(
        key_regex=HEADER_NAME,
        key_message="Not a header name (letters, digits and !#$%&'*+.^_`|~-).",
        child=fields.Text(
            allow_blank=True, max_length=4096, trim_whitespace=False, validators=[HEADER_VALUE]
        ),
        required=False,
        help_text=HEADERS_HELP,
    )
    event_types = event_types_field(required=False)
    description = fields.Text(max_length=200, required=False, allow_blank=True)
    ordering = serializers.ChoiceField(
        choices=Ordering.choices,
        required=False,
        help_text="none (default): callbacks may arrive in any order. per_key: one at a time "
        "per order key (the Box, the hook's owner, the PACS integration), in commit order, "
        "numbered in camio-order-sequence.",
    )
    rate_limit = serializers.IntegerField(
        min_value=1,
        max_value=RATE_LIMIT_MAX,
        required=False,
        allow_null=True,
        help_text="At most this many deliveries start per second, across every worker; "
        "null for no limit.",
    )
    retry_schedule = serializers.ListField(
        child=serializers.FloatField(min_value=0, max_value=settings.CALLBACK_RETRY_MAX_AGE),
        min_length=1,
        max_length=RETRY_ATTEMPTS_MAX,
        required=False,
        allow_null=True,
        help_text="Seconds before each attempt (one attempt each), adding up to at most "
        "CALLBACK_RETRY_MAX_AGE; null for the deployment's CALLBACK_RETRY_SCHEDULE.",
    )
    attempt_timeout = serializers.FloatField(
        min_value=1,
        max_value=settings.CALLBACK_TIMEOUT_MAX,
        required=False,
        allow_null=True,
        help_text="Seconds an attempt may take, answer included; null for the deployment's "
        "CALLBACK_TIMEOUT.",
    )
    filter = FilterValue(source="payload_filter", required=False, help_text=FILTER_HELP)
    client_certificate = fields.Text(
        required=False, allow_blank=True, max_length=65536, trim_whitespace=False,
        help_text="mTLS: the client certificate (PEM, the leaf first, then intermediates), "
        "given with client_key; both empty: none. Refused (422) when unreadable, expired, "
        "or not the key's pair.")
    client_key = fields.Text(
        required=False, allow_blank=True, max_length=65536, trim_whitespace=False,
        write_only=True, help_text="mTLS: the certificate's private key (PEM, without a "
        "passphrase). Stored encrypted; never shown again.")
    ca_bundle = fields.Text(
        required=False, allow_blank=True, max_length=65536, trim_whitespace=False,
        help_text="PEM certificates that verify the receiver's certificate in place of the "
        "system's (a private CA); empty: the system's.")
    oauth_token_url = fields.Text(
        required=False, allow_blank=True, max_length=2048,
        help_text="OAuth2 client credentials: the token endpoint; each callback then carries "
        "Authorization: Bearer <token>. Empty: none.")
    oauth_client_id = fields.Text(required=False, allow_blank=True, max_length=300)
    oauth_client_secret = fields.Text(
        required=False, allow_blank=True, max_length=4096, write_only=True,
        help_text="Stored encrypted, never shown; empty: keep the stored one.")
    oauth_scope = fields.Text(required=False, allow_blank=True, max_length=500)
    signing = serializers.ChoiceField(
        choices=Signing.choices, required=False,
        help_text="hmac (default): v1 signatures with the whsec_ secret. ed25519: v1a "
        "signatures, verified with the public key published at the secret route's jwks_url "
        "(webhook-key-id names the key). both: each callback carries both.")


class EndpointIn(EndpointChangeIn):
    url = url_field(help_text="Where callbacks go (http or https). A chat endpoint's URL is "
                    "kept encrypted and shown as its scheme and host only.")
    kind = serializers.ChoiceField(
        choices=Kind.choices, required=False,
        help_text="webhook (default): the signed JSON envelope. chat: a Slack- or Teams-style "
        'incoming webhook, sent {"text": "..."}: a short message (docs/callbacks.md, "Chat '
        'endpoints"). Set when the endpoint is created.')
    event_types = event_types_field()
    domain = fields.Text(
        max_length=253,
        required=False,
        help_text="The domain's name; the one you administer when left out.",
    )


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {"type": "string"},
        "example": {"Authorization": MASK},
    }
)
class MaskedHeadersField(serializers.Field):
    def to_representation(self, value: dict[str, str]) -> dict[str, str]:
        return mask_mapping(value)


class MaskedUrlField(serializers.CharField):
    def to_representation(self, value: Any) -> str:
        return mask_url(str(value))


class CircuitOut(serializers.Serializer):
    state = serializers.ChoiceField(
        choices=["closed", "open", "half-open"],
        source="circuit_state",
        help_text="closed: deliveries flow; open: they wait for the next probe; half-open: a "
        "probe is out.",
    )
    opened_at = serializers.DateTimeField(source="circuit_opened_at", allow_null=True)
    next_probe_at = serializers.DateTimeField(allow_null=True)
    failures = serializers.IntegerField(
        source="breaker_failures", help_text="Consecutive failures that count toward opening it."
    )
    waiting = serializers.SerializerMethodField(help_text="Deliveries waiting while it is open.")
    paused_until = serializers.DateTimeField(
        allow_null=True, help_text="A 429 or 503 with Retry-After holds every delivery until then."
    )

    def get_waiting(self, endpoint: Endpoint) -> int:
        if endpoint.circuit_opened_at is None:
            return 0
        return endpoint.deliveries.filter(state=DeliveryState.PENDING).count()


class EndpointOut(serializers.Serializer):
    endpoint_id = serializers.CharField()
    domain = serializers.CharField(source="domain.name")
    kind = serializers.ChoiceField(choices=Kind.choices)
    signing = serializers.ChoiceField(choices=Signing.choices)
    url = MaskedUrlField(help_text="A chat endpoint's shows its scheme and host only.")
    method = serializers.ChoiceField(choices=Method.choices)
    headers = MaskedHeadersField()
    event_types = serializers.ListField(child=serializers.CharField())
    description = serializers.CharField()
    enabled = serializers.BooleanField()
    disabled_reason = serializers.CharField()
    disabled_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    last_success_at = serializers.DateTimeField(allow_null=True)
    last_attempt_at = serializers.DateTimeField(allow_null=True)
    failing_since = serializers.DateTimeField(allow_null=True)
    consecutive_failures = serializers.IntegerField()
    last_error = serializers.CharField()
    circuit = CircuitOut(source="*", help_text="The circuit breaker and any Retry-After pause.")
    ordering = serializers.ChoiceField(choices=Ordering.choices)
    rate_limit = serializers.IntegerField(allow_null=True, help_text="Deliveries per second.")
    retry_schedule = serializers.ListField(
        child=serializers.FloatField(), allow_null=True,
        help_text="This endpoint's seconds before each attempt; null: the deployment's.")
    attempt_timeout = serializers.FloatField(
        allow_null=True, help_text="This endpoint's attempt timeout; null: the deployment's.")
    filter = FilterValue(source="payload_filter",
                         help_text="This endpoint's payload filter; null: none.")
    client_certificate = serializers.SerializerMethodField(
        help_text="mTLS: the client certificate's SHA-256 fingerprint, subject and end "
        "(its key is never shown); null: none.")
    ca_bundle = serializers.CharField(help_text="The CA bundle (PEM) that verifies the "
                                      "receiver; empty: the system's.")
    oauth_token_url = serializers.CharField(help_text="OAuth2 token endpoint; empty: none "
                                            "(the client secret is never shown).")
    oauth_client_id = serializers.CharField()
    oauth_scope = serializers.CharField()

    @extend_schema_field({"type": ["object", "null"], "properties": {
        "fingerprint": {"type": "string"}, "expires_at": {"type": "string",
                                                           "format": "date-time"}},
        "required": ["fingerprint", "expires_at"]})
    def get_client_certificate(self, endpoint: Endpoint) -> dict[str, str] | None:
        if not endpoint.client_certificate:
            return None
        expires = endpoint.client_certificate_expires_at
        return {"fingerprint": endpoint.client_certificate_fingerprint,
                "expires_at": expires.isoformat().replace("+00:00", "Z") if expires else ""}


class HealthHourOut(serializers.Serializer):
    hour = serializers.DateTimeField(help_text="The hour's start (UTC).")
    succeeded = serializers.IntegerField(help_text="Attempts that succeeded (2xx).")
    failed = serializers.IntegerField(
        help_text="Attempts that failed: 5xx, timeouts, refused connections, 4xx."
    )
    failed_for_good = serializers.IntegerField(
        source="gave_up", help_text="Deliveries that ended failed (no retry left, 410 Gone)."
    )
    cancelled = serializers.IntegerField(
        help_text="Deliveries cancelled (the endpoint disabled or deleted, or one by one)."
    )
    circuit_openings = serializers.IntegerField(help_text="Times the circuit opened.")
    p50_ms = serializers.IntegerField(
        allow_null=True, help_text="Attempt latency: the upper bound of the median's bucket."
    )
    p95_ms = serializers.IntegerField(allow_null=True)


class HealthTotalOut(serializers.Serializer):
    attempts = serializers.IntegerField()
    succeeded = serializers.IntegerField(help_text="Attempts that succeeded (2xx).")
    failed = serializers.IntegerField(
        help_text="Attempts that failed: 5xx, timeouts, refused connections, 4xx."
    )
    failed_for_good = serializers.IntegerField(source="gave_up")
    cancelled = serializers.IntegerField()
    circuit_openings = serializers.IntegerField()


class HealthOut(serializers.Serializer):
    endpoint_id = serializers.CharField()
    since = serializers.DateTimeField(help_text="The period's start: 24 whole hours ago.")
    until = serializers.DateTimeField(help_text="The period's end: the end of this hour.")
    success_percent = serializers.FloatField(
        allow_null=True,
        help_text="Attempts that succeeded, as a percentage rounded down to 0.1 (null: none).",
    )
    summary = serializers.CharField(help_text="The figure as the portal shows it.")
    total = HealthTotalOut()
    hours = HealthHourOut(many=True, help_text="The 24 hours, oldest first.")


class RotateIn(fields.Input):
    scheme = serializers.ChoiceField(choices=SigningScheme.choices, required=False,
                                     help_text="Which key to rotate: hmac (the default) or "
                                     "ed25519.")


class SigningKeyOut(serializers.Serializer):
    key_id = serializers.CharField(help_text="An ed25519 key's is its webhook-key-id and its "
                                   "JWK's kid.")
    scheme = serializers.ChoiceField(choices=SigningScheme.choices)
    public_key = serializers.SerializerMethodField(
        help_text="An ed25519 key's public key, whpk_<base64>; null for HMAC.")
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When it stops signing; null: the current key, which signs until the next "
        "rotation.",
    )

    def get_public_key(self, key: SigningKey) -> str | None:
        return public_key(key.secret) if key.scheme == SigningScheme.ED25519 else None


class SecretOut(serializers.Serializer):
    secret = serializers.CharField(
        help_text="The current secret, whsec_<base64 key>: verify callbacks with it."
    )
    keys = SigningKeyOut(
        many=True,
        help_text="The keys that sign now, newest first (at most 3 of each scheme): callbacks "
        "carry one signature per key. Secrets other than the current one are not shown.",
    )
    jwks_url = serializers.CharField(
        allow_null=True, help_text="Where the domain's ed25519 public keys are published "
        "(JWKS); null while none of its endpoints has one.")


class EndpointCreatedOut(EndpointOut):
    secret = serializers.CharField(help_text="The signing secret (also at .../secret).")


class DisableIn(fields.Input):
    reason = fields.Text(max_length=300, required=False, allow_blank=True)


class TestEventIn(fields.Input):
    event_type = serializers.ChoiceField(choices=EVENT_TYPES)


class DeliverySummaryOut(serializers.Serializer):
    id = serializers.UUIDField()
    state = serializers.ChoiceField(choices=DeliveryState.choices)
    event_type = serializers.CharField()
    status = serializers.IntegerField(allow_null=True, help_text="The receiver's HTTP status.")
    duration_ms = serializers.IntegerField(allow_null=True)
    error = serializers.CharField()
    response_excerpt = serializers.CharField()


class ReplayIn(fields.Input):
    since = fields.DateTime(help_text="Start of the range (inclusive), RFC 3339.")
    until = fields.DateTime(help_text="End of the range (exclusive), after since.")
    include_all = fields.Boolean(
        default=False, help_text="Also events this endpoint already received."
    )
    dry_run = fields.Boolean(default=False, help_text="Only count the events.")


class ReplayCountOut(serializers.Serializer):
    count = serializers.IntegerField()


class ReplayJobOut(serializers.Serializer):
    job_id = serializers.CharField()
    endpoint_id = serializers.CharField(source="endpoint.endpoint_id")
    since = serializers.DateTimeField(source="start")
    until = serializers.DateTimeField(source="end")
    include_all = serializers.BooleanField()
    state = serializers.ChoiceField(choices=ReplayJob.State.choices)
    total = serializers.IntegerField()
    done = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    error = serializers.CharField()


# --- Event types, events, deliveries ------------------------------------------------


class EventTypeOut(serializers.Serializer):
    type = serializers.CharField(source="name")
    description = serializers.CharField()
    ordered_by = serializers.CharField(
        help_text="The order key a per_key endpoint keeps this type in order with "
        "(camio-order-key)."
    )
    schema = serializers.SerializerMethodField()
    example = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_schema(self, entry: catalog.EventType) -> dict[str, Any]:
        return entry.envelope_schema()

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_example(self, entry: catalog.EventType) -> dict[str, Any]:
        return {"data": {"object": entry.example}, "id": "…", "type": entry.name}


class DeliveryOut(serializers.Serializer):
    id = serializers.UUIDField()
    event_id = serializers.UUIDField()
    endpoint_id = serializers.CharField(source="endpoint.endpoint_id")
    event_type = serializers.CharField()
    state = serializers.ChoiceField(choices=DeliveryState.choices)
    test = serializers.BooleanField()
    replay = serializers.BooleanField()
    attempt_count = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField()
    last_status_code = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    order_key = serializers.CharField(
        allow_null=True, help_text="camio-order-key (per_key endpoints only)."
    )
    sequence = serializers.IntegerField(
        allow_null=True, help_text="camio-order-sequence (per_key endpoints only)."
    )


class AttemptOut(serializers.Serializer):
    number = serializers.IntegerField()
    started_at = serializers.DateTimeField()
    duration_ms = serializers.IntegerField()
    request_method = serializers.CharField()
    request_url = serializers.CharField()
    request_headers = serializers.ListField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="[name, value] pairs as sent; secrets masked.",
    )
    response_status = serializers.IntegerField(allow_null=True)
    response_headers = serializers.ListField(
        child=serializers.ListField(child=serializers.CharField())
    )
    response_body = serializers.CharField(help_text="The first bytes of the answer.")
    error = serializers.CharField()
    succeeded = serializers.BooleanField()


class DeliveryDetailOut(DeliveryOut):
    attempts = AttemptOut(many=True, source="attempts_list")


class EventOut(serializers.Serializer):
    id = serializers.UUIDField()
    type = serializers.CharField()
    domain = serializers.CharField(source="domain.name")
    created_at = serializers.DateTimeField()
    test = serializers.BooleanField()


class EventDetailOut(EventOut):
    payload = serializers.SerializerMethodField(help_text="The callback body, as sent.")
    deliveries = DeliveryOut(many=True, source="deliveries_list")

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_payload(self, event: Any) -> dict[str, Any]:
        return json.loads(bytes(event.body))
