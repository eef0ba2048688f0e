"""Form pieces shared by the support admin and the domain admins' pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from callbacks import catalog
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


class EndpointFieldsMixin:
    """Cleans URL, method and event types with the one validation every path uses."""

    def clean(self) -> dict[str, Any]:
        data = super().clean()  # type: ignore[misc]
        given = {k: data[k] for k in ("url", "method", "event_types") if k in data}
        try:
            data.update(endpoint_fields_clean(given))
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                self.add_error(field, errors)  # type: ignore[attr-defined]
        return data
