"""The event catalog, and a domain's events and deliveries (the delivery log)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from callbacks import catalog
from callbacks import services as callbacks
from callbacks.models import Delivery, Event
from domains.api.callback_serializers import (
    DeliveryDetailOut,
    DeliveryOut,
    EventDetailOut,
    EventOut,
    EventTypeOut,
)
from domains.api.filters import DeliveryFilter, EventFilter
from domains.api.pagination import NewestFirst
from domains.api.views.base import AdminViewSet
from domains.models import signed_in_user


@extend_schema(tags=["events"])
class EventTypeViewSet(viewsets.GenericViewSet):
    serializer_class = EventTypeOut
    pagination_class = None

    def get_queryset(self):
        return Event.objects.none()  # the catalog is code, not rows; the schema asks anyway

    @extend_schema(responses=EventTypeOut(many=True))
    def list(self, request: Request) -> Response:
        """The 11 event types an endpoint can subscribe to, with schemas and examples."""
        return Response(EventTypeOut(catalog.EVENT_TYPES, many=True).data)


@extend_schema(tags=["events"])
class EventViewSet(AdminViewSet):
    pagination_class = NewestFirst
    filterset_class = EventFilter
    serializer_class = EventOut
    not_found = "No event with this id in your domain."

    def get_queryset(self):
        return Event.objects.filter(domain__in=self.administered()).select_related("domain")

    @extend_schema(responses=EventOut(many=True))
    def list(self, request: Request) -> Response:
        """Your domain's events, newest first; filter by type and time."""
        return self.page(self.filter_queryset(self.get_queryset()).defer("body"), EventOut)

    @extend_schema(responses=EventDetailOut)
    def retrieve(self, request: Request, pk: str) -> Response:
        """One event: its payload as sent and its deliveries."""
        event = self.get_object()
        event.deliveries_list = event.deliveries.select_related("endpoint").order_by("created_at")
        return Response(EventDetailOut(event).data)


@extend_schema(tags=["deliveries"])
class DeliveryViewSet(AdminViewSet):
    pagination_class = NewestFirst
    filterset_class = DeliveryFilter
    serializer_class = DeliveryOut
    not_found = "No delivery with this id in your domain."

    def get_queryset(self):
        return Delivery.objects.filter(domain__in=self.administered()).select_related("endpoint")

    @extend_schema(responses=DeliveryOut(many=True))
    def list(self, request: Request) -> Response:
        """Your domain's deliveries, newest first; filter by endpoint, state, type, time."""
        return self.page(self.filter_queryset(self.get_queryset()), DeliveryOut)

    @extend_schema(responses=DeliveryDetailOut)
    def retrieve(self, request: Request, pk: str) -> Response:
        """One delivery with every attempt (request and answer)."""
        delivery = self.get_object()
        delivery.attempts_list = delivery.attempts.order_by("number")
        return Response(DeliveryDetailOut(delivery).data)

    @extend_schema(request=None, responses=DeliveryOut)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        """Stop a pending delivery (no more attempts); it can be resent or replayed later."""
        delivery = callbacks.delivery_cancel(
            delivery=self.get_object(), actor=signed_in_user(request)
        )
        return Response(DeliveryOut(delivery).data)

    @extend_schema(request=None, responses={202: DeliveryOut})
    @action(detail=True, methods=["post"])
    def resend(self, request: Request, pk: str) -> Response:
        """Send this delivery's event again to its endpoint, as a new delivery."""
        delivery = callbacks.delivery_resend(
            delivery=self.get_object(), actor=signed_in_user(request)
        )
        return Response(DeliveryOut(delivery).data, status=status.HTTP_202_ACCEPTED)
