"""Form pieces shared by the support admin and the domain admins' pages."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from callbacks import catalog
from callbacks.filters import EXAMPLES, FILTER_MAX_BYTES, clean_filter
from callbacks.models import RATE_LIMIT_MAX, RETRY_ATTEMPTS_MAX, Ordering, Signing
from callbacks.validation import endpoint_fields_clean, parse_headers_text

HEADERS_PLACEHOLDER = (
    '{\n    "Authorization": "token XYZPDQ",\n    "Content-Type": "application/json"\n}'
)
EVENT_TYPE_CHOICES = [(e.name, f"{e.name}: {e.description}") for e in catalog.EVENT_TYPES]


class HeadersField(forms.CharField):
    """Headers typed as a JSON object; cleans to a dict or a precise error."""

    widget = forms.Textarea(attrs={"rows": 5, "placeholder": HEADERS_PLACEHOLDER,
                                   "spellcheck": "false"})

    # A CharField's text box whose value is a dict, unlike CharField.to_python's str.
    def to_python(self, value: object) -> dict[str, str]:  # type: ignore[override]
        return parse_headers_text(str(value or ""))


class FilterField(forms.CharField):
    """A payload filter typed as JSON; cleans to a dict (None for none) or a precise error."""

    widget = forms.Textarea(attrs={"rows": 4, "spellcheck": "false",
                                   "placeholder": EXAMPLES[0]})

    def to_python(self, value: object) -> dict[str, Any] | None:  # type: ignore[override]
        return clean_filter(str(value or "").strip())


def payload_filter_field() -> FilterField:
    return FilterField(
        label="Payload filter (JSON)",
        required=False,
        max_length=FILTER_MAX_BYTES,
        help_text="Only events whose payload passes are delivered. Dotted paths into the "
        "callback, each compared with a value or with $in, $exists, $gt, $lt, $startsWith; "
        "combine with $and, $or, $not. A path through a list matches when any item does. "
        f"Example: <code>{EXAMPLES[2]}</code>. Empty: every event of the chosen types "
        '(docs/callbacks.md, "Payload filters").',
    )


def filter_text(value: dict[str, Any] | None) -> str:
    """A stored filter as the form shows it ('' for none)."""
    return json.dumps(value, indent=2, ensure_ascii=False) if value else ""


def signing_field() -> forms.ChoiceField:
    return forms.ChoiceField(
        label="Signatures",
        choices=Signing.choices,
        initial=Signing.HMAC,
        required=False,  # left out: HMAC, as before ed25519 existed
        help_text="HMAC: receivers verify with the shared whsec_ secret. ed25519: with a "
        "public key the portal publishes (JWKS), so receivers hold no secret. Both: each "
        "callback carries both signatures, while receivers move over.",
    )


def tls_fields() -> tuple[forms.CharField, forms.CharField, forms.CharField]:
    """mTLS: the client certificate, its key (never shown again) and a CA bundle."""
    pem = {"rows": 4, "spellcheck": "false", "autocomplete": "off"}
    return (
        forms.CharField(
            label="Client certificate (PEM)", required=False, strip=False,
            widget=forms.Textarea(attrs={**pem, "placeholder": "-----BEGIN CERTIFICATE-----"}),
            help_text="For receivers that require mutual TLS: the certificate, then any "
            "intermediates. Empty, with the key empty too: none."),
        forms.CharField(
            label="Client certificate's private key (PEM)", required=False, strip=False,
            widget=forms.Textarea(attrs={**pem, "placeholder": "-----BEGIN PRIVATE KEY-----"}),
            help_text="Without a passphrase. Stored encrypted and never shown again: leave "
            "it empty to keep the stored one."),
        forms.CharField(
            label="CA bundle (PEM)", required=False, strip=False,
            widget=forms.Textarea(attrs=pem),
            help_text="Certificates that verify the receiver in place of the system's (a "
            "private CA). Empty: the system's."),
    )


def oauth_fields() -> tuple[forms.CharField, forms.CharField, forms.CharField,
                            forms.CharField]:
    """OAuth2 client credentials: token URL, client id, secret (never shown again), scope."""
    return (
        forms.CharField(label="OAuth2 token endpoint", required=False, max_length=2048,
                        widget=forms.URLInput(attrs={"placeholder": "https://auth.example.com/"
                                                                    "oauth2/token"}),
                        help_text="For receivers that take OAuth2 client credentials: each "
                        "callback carries a bearer token fetched here (once per token "
                        "lifetime). Empty: none."),
        forms.CharField(label="OAuth2 client id", required=False, max_length=300),
        forms.CharField(label="OAuth2 client secret", required=False, max_length=4096,
                        widget=forms.PasswordInput(render_value=False),
                        help_text="Stored encrypted and never shown again: leave it empty to "
                        "keep the stored one."),
        forms.CharField(label="OAuth2 scope", required=False, max_length=500),
    )


def ordering_field() -> forms.ChoiceField:
    return forms.ChoiceField(
        label="Delivery order",
        choices=Ordering.choices,
        initial=Ordering.NONE,
        required=False,  # left out: none, as before ordering existed
        help_text="Per key: callbacks about one Box (its cameras and zones), one hook owner "
        "or one PACS integration arrive one at a time, in the order they happened, numbered "
        "in camio-order-sequence. A delivery being retried holds back only its own key.",
    )


def rate_limit_field() -> forms.CharField:
    # A CharField, cleaned by the shared validation, so every path says the same.
    return forms.CharField(
        label="Rate limit (deliveries per second)",
        required=False,
        widget=forms.NumberInput(attrs={"min": 1, "max": RATE_LIMIT_MAX, "step": 1,
                                        "placeholder": "No limit"}),
        help_text=f"At most this many deliveries start per second, across every worker "
        f"(1 to {RATE_LIMIT_MAX:,}). Empty: no limit.",
    )


def retry_schedule_field() -> forms.CharField:
    return forms.CharField(
        label="Retry schedule (seconds before each attempt)",
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "The deployment's schedule"}),
        help_text=f"Comma-separated, such as 0, 60, 600, 3600: one attempt each, at most "
        f"{RETRY_ATTEMPTS_MAX}, adding up to at most "
        f"{settings.CALLBACK_RETRY_MAX_AGE / 86400:g} days. Empty: the deployment's schedule.",
    )


def attempt_timeout_field() -> forms.CharField:
    return forms.CharField(
        label="Attempt timeout (seconds)",
        required=False,
        widget=forms.NumberInput(attrs={"min": 1, "max": settings.CALLBACK_TIMEOUT_MAX,
                                        "step": "any", "placeholder":
                                        f"{settings.CALLBACK_TIMEOUT:g}"}),
        help_text=f"How long an attempt may take, answer included (1 to "
        f"{settings.CALLBACK_TIMEOUT_MAX:g}). Empty: {settings.CALLBACK_TIMEOUT:g} s.",
    )


def schedule_text(schedule: list[float] | None) -> str:
    """An endpoint's retry schedule as the form shows it ('' for the deployment's)."""
    return ", ".join(f"{delay:g}" for delay in schedule) if schedule else ""


def retry_policy_text(endpoint: Any) -> str:
    """Which schedule and timeout an endpoint's deliveries get, and whose they are."""
    schedule = endpoint.retry_schedule or settings.CALLBACK_RETRY_SCHEDULE
    delays = ", ".join(f"{delay:g} s" for delay in schedule)
    whose = "this endpoint's" if endpoint.retry_schedule else "the deployment's"
    timeout = endpoint.attempt_timeout or settings.CALLBACK_TIMEOUT
    timeout_whose = "this endpoint's" if endpoint.attempt_timeout else "the deployment's"
    return (f"{len(schedule)} attempts, after {delays} ({whose}, each ±"
            f"{settings.CALLBACK_RETRY_JITTER:.0%}); each may take {timeout:g} s "
            f"({timeout_whose})")


class EndpointFieldsMixin:
    """Cleans URL, method, event types, ordering, rate limit, retry policy and payload filter
    with the one validation every path uses."""

    def clean(self) -> dict[str, Any]:
        data = super().clean()  # type: ignore[misc]
        given = {k: data[k] for k in ("url", "method", "event_types", "ordering", "rate_limit",
                                      "retry_schedule", "attempt_timeout", "payload_filter",
                                      "signing")
                 if k in data}
        try:
            data.update(endpoint_fields_clean(given))
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                self.add_error(field, errors)  # type: ignore[attr-defined]
        return data
