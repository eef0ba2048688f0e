"""The PACS gateway's routes, opened by a PACS token: ``POST /pacs/devices`` (its doors
and readers) and ``POST /pacs/webhooks`` (its events)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from domains.api.batch import (
    BAD_BATCH,
    BatchAnswer,
    batch_response,
    check_size,
    items,
    token_throttle,
)
from domains.api.permissions import require_kind
from domains.models import TokenKind
from pacs.models import PacsIntegration
from pacs.services import devices_replace, ingest_events


class PacsCredentials(BasePermission):
    """A PACS token; the view's integration is the one the token was issued for."""

    def has_permission(self, request: Request, view: Any) -> bool:
        require_kind(request, TokenKind.PACS)
        integration = (
            PacsIntegration.objects.select_related("owner", "domain")
            .filter(integration_id=request.auth.subject)
            .first()
        )
        if integration is None:
            raise AuthenticationFailed("This token's integration was deleted.")
        view.integration = integration
        return True


PacsThrottle = token_throttle("pacs", lambda token: token.subject)


class PacsDeviceIn(serializers.Serializer):
    device_id = serializers.CharField(max_length=128, help_text="The vendor's door/reader id.")
    device_name = serializers.CharField(max_length=255, required=False, allow_blank=True)


class PacsDevicesIn(serializers.Serializer):
    devices = PacsDeviceIn(many=True)


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
        data = request.data
        devices = data.get("devices") if isinstance(data, dict) else None
        return Response(
            PacsDevicesOut(devices_replace(integration=self.integration, devices=devices)).data
        )


class PacsEventsIn(serializers.Serializer):
    events = serializers.ListField(
        child=serializers.DictField(),
        max_length=5000,
        help_text='The vendor\'s events as it sends them (or one as {"event": {...}}).',
    )


class WebhooksView(PacsGatewayView):
    @extend_schema(
        operation_id="pacs_webhooks_create",
        tags=["pacs gateway"],
        request=PacsEventsIn,
        responses={
            202: OpenApiResponse(BatchAnswer, "Stored; accepted, duplicates, rejected by index."),
            400: OpenApiResponse(
                BAD_BATCH,
                "Every event was bad (batch answer), or the body held no events (errors).",
            ),
            413: OpenApiResponse(description="More than 5,000 events or 5 MB."),
        },
    )
    def post(self, request: Request) -> Response:
        """Store the PACS's events; those no camera sees are relayed in batches."""
        check_size(request, settings.PACS_MAX_BODY_BYTES)
        events = items(request.data, many="events", one="event", limit=settings.PACS_MAX_EVENTS)
        result = ingest_events(integration=self.integration, events=events)
        return batch_response(result.as_answer())
