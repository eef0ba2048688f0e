"""Query filters of the event and delivery logs (django-filter)."""

from __future__ import annotations

import datetime

import django_filters
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeField

from callbacks.models import Delivery, DeliveryState, Event
from domains.api.callback_serializers import EVENT_TYPES


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 time, handed to the database in UTC (PostgreSQL refuses offsets beyond
    ±15:59, and year 1 at +14:00 has no UTC form at all)."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is not None:
            try:
                value = value.astimezone(datetime.UTC)
            except OverflowError:
                raise ValidationError("Datetime value out of range.", code="overflow") from None
        return value


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class EventFilter(django_filters.FilterSet):
    type = django_filters.ChoiceFilter(choices=EVENT_TYPES)
    since = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Event
        fields = ["type", "since", "until"]


class DeliveryFilter(django_filters.FilterSet):
    endpoint = django_filters.CharFilter(
        field_name="endpoint__endpoint_id", help_text="An endpoint_id."
    )
    state = django_filters.ChoiceFilter(choices=DeliveryState.choices)
    type = django_filters.ChoiceFilter(field_name="event_type", choices=EVENT_TYPES)
    since = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Delivery
        fields = ["endpoint", "state", "type", "since", "until"]
