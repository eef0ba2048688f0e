"""Query filters of the event and delivery logs (django-filter)."""

from __future__ import annotations

import django_filters

from callbacks.models import Delivery, DeliveryState, Event
from domains.api.callback_serializers import EVENT_TYPES


class EventFilter(django_filters.FilterSet):
    type = django_filters.ChoiceFilter(choices=EVENT_TYPES)
    since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Event
        fields = ["type", "since", "until"]


class DeliveryFilter(django_filters.FilterSet):
    endpoint = django_filters.CharFilter(
        field_name="endpoint__endpoint_id", help_text="An endpoint_id."
    )
    state = django_filters.ChoiceFilter(choices=DeliveryState.choices)
    type = django_filters.ChoiceFilter(field_name="event_type", choices=EVENT_TYPES)
    since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Delivery
        fields = ["endpoint", "state", "type", "since", "until"]
