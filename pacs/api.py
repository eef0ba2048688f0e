"""The PACS gateway's routes, opened by a PACS token: ``POST /pacs/devices`` (its doors
and readers) and ``POST /pacs/webhooks`` (its events)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import (
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from domains.api import fields
from domains.api.batch import (
    ALL_REFUSED,
    BAD_BATCH,
    BatchAnswer,
    Errors,
    batch_response,
    check_size,
    items,
    token_throttle,
)
from domains.api.fields import NOT_BLANK, ecma
from domains.api.permissions import request_token, require_kind
from domains.models import TokenKind
from pacs.models import PacsIntegration
from pacs.services import devices_replace, ingest_events


class PacsCredentials(BasePermission):
    """A PACS token; the view's integration is the one the token was issued for."""

    def has_permission(self, request: Request, view: Any) -> bool:
        require_kind(request, TokenKind.PACS)
        integration = (
            PacsIntegration.objects.select_related("owner", "domain")
            .filter(integration_id=request_token(request).subject)
            .first()
        )
        if integration is None:
            raise AuthenticationFailed("This token's integration was deleted.")
        view.integration = integration
        return True


PacsThrottle = token_throttle("pacs", lambda token: token.subject)


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "minLength": 1, "maxLength": 128, "pattern": ecma(NOT_BLANK)},
            {"type": "integer"},
        ]
    }
)
class VendorDeviceId(fields.Text):
    """A door or reader id as vendors send it: a string, or an integer (read as its digits)."""

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, int) and not isinstance(data, bool):
            data = str(data)
        return super().to_internal_value(data)


class PacsDeviceIn(fields.Input):
    device_id = VendorDeviceId(max_length=128, help_text="The vendor's door/reader id.")
    device_name = fields.Text(max_length=255, required=False, allow_blank=True)


class PacsDevicesIn(fields.Input):
    devices = PacsDeviceIn(many=True, help_text="The whole list (an empty one removes all).")


class PacsDevicesOut(serializers.Serializer):
    devices = serializers.IntegerField(help_text="How many the list holds now.")
    removed = serializers.IntegerField()
    kept_mapped = serializers.ListField(
        child=serializers.CharField(), help_text="Left out of the list but kept: mapped."
    )


class PacsGatewayView(APIView):
    permission_classes = [PacsCredentials]
    throttle_classes = [PacsThrottle]
    integration: PacsIntegration


class DevicesView(PacsGatewayView):
    @extend_schema(
        operation_id="pacs_devices_replace",
        tags=["pacs gateway"],
        request=PacsDevicesIn,
        responses={200: PacsDevicesOut},
    )
    def post(self, request: Request) -> Response:
        """Replace the integration's doors and readers; those mapped to cameras stay."""
        check_size(request, settings.PACS_MAX_BODY_BYTES)
        serializer = PacsDevicesIn(data=request.data)
        serializer.is_valid(raise_exception=True)
        devices = serializer.validated_data["devices"]
        return Response(
            PacsDevicesOut(devices_replace(integration=self.integration, devices=devices)).data
        )


EVENT_HELP = (
    "The vendor's event as it sends it (a JSON object); one its normalizer cannot read is "
    "rejected by its index, the others are stored."
)


class PacsEventsIn(fields.Input):
    events = serializers.ListField(
        child=fields.JsonValue(), min_length=1, max_length=5000, help_text=EVENT_HELP
    )


class PacsEventIn(fields.Input):
    event = fields.JsonValue(help_text=EVENT_HELP)


EVENTS = PolymorphicProxySerializer(
    component_name="PacsEvents",
    serializers=[PacsEventsIn, PacsEventIn],
    resource_type_field_name=None,
)


class WebhooksView(PacsGatewayView):
    @extend_schema(
        operation_id="pacs_webhooks_create",
        tags=["pacs gateway"],
        request=EVENTS,
        responses={
            202: OpenApiResponse(BatchAnswer, "Stored; accepted, duplicates, rejected by index."),
            400: OpenApiResponse(Errors, 'The body is not {"events": [...]} or {"event": {...}}.'),
            413: OpenApiResponse(Errors, "More than 5,000 events or 5 MB."),
            422: OpenApiResponse(BAD_BATCH, ALL_REFUSED),
        },
    )
    def post(self, request: Request) -> Response:
        """Store the PACS's events; those no camera sees are relayed in batches."""
        check_size(request, settings.PACS_MAX_BODY_BYTES)
        events = items(request.data, many="events", one="event", limit=settings.PACS_MAX_EVENTS)
        result = ingest_events(integration=self.integration, events=events)
        return batch_response(result.as_answer())
