"""The PACS gateway's routes, opened by a PACS token: ``POST /pacs/devices`` (its doors
and readers) and ``POST /pacs/webhooks`` (its events)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, AuthenticationFailed
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from domains.api.permissions import require_kind
from domains.models import TokenKind
from pacs.models import PacsIntegration
from pacs.services import devices_replace, ingest_events


class TooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request is too large."


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


class PacsThrottle(SimpleRateThrottle):
    scope = "pacs"

    def get_rate(self) -> str | None:
        return settings.API_THROTTLE_RATES.get(self.scope) or None

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": request.auth.subject}


def _check_size(request: Request) -> None:
    if int(request.META.get("CONTENT_LENGTH") or 0) > settings.PACS_MAX_BODY_BYTES:
        raise TooLarge(f"At most {settings.PACS_MAX_BODY_BYTES} bytes per request.")


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
        _check_size(request)
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


class PacsRejected(serializers.Serializer):
    index = serializers.IntegerField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class PacsEventsOut(serializers.Serializer):
    accepted = serializers.ListField(child=serializers.IntegerField())
    duplicates = serializers.ListField(child=serializers.IntegerField())
    rejected = PacsRejected(many=True)


class PacsErrorsOut(serializers.Serializer):
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


def _events(data: Any) -> list[Any]:
    if isinstance(data, dict) and "events" in data:
        events = data["events"]
    elif isinstance(data, dict) and "event" in data:
        events = [data["event"]]
    else:
        events = None
    if not isinstance(events, list) or not events:
        raise serializers.ValidationError(
            {"events": ['Send {"event": {...}} or {"events": [...]} with at least one.']}
        )
    if len(events) > settings.PACS_MAX_EVENTS:
        raise TooLarge(f"At most {settings.PACS_MAX_EVENTS} events per request.")
    return events


class WebhooksView(PacsGatewayView):
    @extend_schema(
        operation_id="pacs_webhooks_create",
        tags=["pacs gateway"],
        request=PacsEventsIn,
        responses={
            202: OpenApiResponse(PacsEventsOut, "Stored; accepted, duplicates, rejected by index."),
            400: OpenApiResponse(
                PolymorphicProxySerializer(
                    component_name="PacsBatchOrErrors",
                    serializers=[PacsEventsOut, PacsErrorsOut],
                    resource_type_field_name=None,
                ),
                "Every event was bad (batch answer), or the body held no events (errors).",
            ),
            413: OpenApiResponse(description="More than 5,000 events or 5 MB."),
        },
    )
    def post(self, request: Request) -> Response:
        """Store the PACS's events; those no camera sees are relayed in batches."""
        _check_size(request)
        result = ingest_events(integration=self.integration, events=_events(request.data))
        stored = result.accepted or result.duplicates
        return Response(
            result.as_answer(),
            status=status.HTTP_202_ACCEPTED if stored else status.HTTP_400_BAD_REQUEST,
        )
