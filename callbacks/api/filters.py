"""Query filters of the event and delivery logs (django-filter), as strict as the schema:
an RFC 3339 time, a listed choice, an endpoint id; an empty value is refused."""

from __future__ import annotations

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema_field

from apikit.fields import DATETIME_HELP, PUBLIC_ID, FullMatch, parse_rfc3339
from callbacks.api.serializers import EVENT_TYPES
from callbacks.models import Delivery, DeliveryState, Event


class UtcDateTimeField(forms.Field):
    """An RFC 3339 time, handed to the database in UTC (PostgreSQL refuses offsets beyond
    ±15:59); one outside UTC's years 1 to 9999 reads as the first or last instant."""

    def to_python(self, value: str | None):
        if value in self.empty_values:
            return None
        parsed = parse_rfc3339(value)
        if parsed is None:
            raise ValidationError(f"Expected {DATETIME_HELP}", code="invalid")
        return parsed


class DateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


class StrictFilterSet(django_filters.FilterSet):
    def is_valid(self) -> bool:
        """Refuse ``?name=`` with no value (no choice, time or id is empty)."""
        valid = super().is_valid()
        for name in self.filters:
            if self.data.get(name) == "":
                self.form.add_error(name, "Leave the parameter out or give it a value.")
                valid = False
        return valid


class EventFilter(StrictFilterSet):
    type = django_filters.ChoiceFilter(choices=EVENT_TYPES)
    since = DateTimeFilter(field_name="created_at", lookup_expr="gte", help_text=DATETIME_HELP)
    until = DateTimeFilter(field_name="created_at", lookup_expr="lt", help_text=DATETIME_HELP)

    class Meta:
        model = Event
        fields = ["type", "since", "until"]


class DeliveryFilter(StrictFilterSet):
    endpoint = extend_schema_field({"type": "string", "pattern": PUBLIC_ID})(
        django_filters.CharFilter(
            field_name="endpoint__endpoint_id",
            help_text="An endpoint_id.",
            strip=False,
            validators=[FullMatch(PUBLIC_ID, "An endpoint_id.")],
        )
    )
    state = django_filters.ChoiceFilter(choices=DeliveryState.choices)
    type = django_filters.ChoiceFilter(field_name="event_type", choices=EVENT_TYPES)
    since = DateTimeFilter(field_name="created_at", lookup_expr="gte", help_text=DATETIME_HELP)
    until = DateTimeFilter(field_name="created_at", lookup_expr="lt", help_text=DATETIME_HELP)

    class Meta:
        model = Delivery
        fields = ["endpoint", "state", "type", "since", "until"]
