"""The PACS API: the gateway's routes, opened by a PACS token (``POST /pacs/devices``, its
doors and readers; ``POST /pacs/webhooks``, its events), and the integrations a domain user
manages (``/api/pacs/integrations``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from drf_spectacular.utils import (
    extend_schema,
)
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import AuthenticationFailed, NotFound
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apikit import batch
from apikit.pagination import NewestFirst
from apikit.permissions import DomainUser, request_token, require_kind
from apikit.throttling import charge
from apikit.viewsets import ScopedViewSet, StrictQuery
from domains.models import ApiToken, Camera, TokenKind, signed_in_user
from domains.services import token_revoke
from pacs import services
from pacs.api.serializers import (
    EVENTS,
    IntegrationChangeIn,
    IntegrationIn,
    IntegrationOut,
    NewPacsTokenOut,
    PacsDeviceMapIn,
    PacsDeviceOut,
    PacsDevicesIn,
    PacsDevicesOut,
    PacsEventOut,
    PacsTokenOut,
)
from pacs.models import PacsDevice, PacsEvent, PacsIntegration
from pacs.selectors import integrations_visible_to
from pacs.services import devices_replace, ingest_events


class PacsCredentials(BasePermission):
    """A PACS token; the view's integration is the one the token was issued for."""

    def has_permission(self, request: Request, view: Any) -> bool:
        require_kind(request, TokenKind.PACS)
        integration = (
            PacsIntegration.objects.live()
            .select_related("owner", "domain")
            .filter(integration_id=request_token(request).subject)
            .first()
        )
        if integration is None:
            raise AuthenticationFailed("This token's integration was deleted.")
        view.integration = integration
        return True


PacsThrottle = batch.token_throttle("pacs", lambda token: token.subject)


class PacsGatewayView(StrictQuery, APIView):
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
        batch.check_size(request, settings.PACS_MAX_BODY_BYTES)
        serializer = PacsDevicesIn(data=request.data)
        serializer.is_valid(raise_exception=True)
        devices = serializer.validated_data["devices"]
        return Response(
            PacsDevicesOut(devices_replace(integration=self.integration, devices=devices)).data
        )


class WebhooksView(PacsGatewayView):
    @extend_schema(
        operation_id="pacs_webhooks_create",
        tags=["pacs gateway"],
        request=EVENTS,
        responses=batch.batch_responses(
            'The body is not {"events": [...]} or {"event": {...}}.',
            "More than 5,000 events or 5 MB.",
        ),
    )
    def post(self, request: Request) -> Response:
        """Store the PACS's events; those no camera sees are relayed in batches."""
        batch.check_size(request, settings.PACS_MAX_BODY_BYTES)
        events = batch.items(
            request.data, many="events", one="event", limit=settings.PACS_MAX_EVENTS
        )
        charge("pacs_events", self.integration.pk, len(events),
               "events from this integration")
        result = ingest_events(integration=self.integration, events=events)
        return batch.batch_response(result.as_answer())


class NewestReceivedFirst(NewestFirst):
    ordering = "-received_at"


def _device_out(device: PacsDevice) -> dict:
    return {
        "device_id": device.device_id,
        "device_name": device.device_name,
        "camera_ids": sorted(c.camera_id for c in device.cameras.all()),
    }


def _cameras(device: PacsDevice, camera_ids: list[str]) -> list[Camera]:
    """The cameras ``camera_ids`` of the device's domain, or a 422 naming the unknown."""
    domain_id = device.integration.domain_id
    cameras = list(Camera.objects.filter(domain_id=domain_id, camera_id__in=camera_ids))
    missing = sorted(set(camera_ids) - {c.camera_id for c in cameras})
    if missing:
        raise ValidationError({"camera_ids": [f"No camera {m!r} in this domain." for m in missing]})
    return cameras


@extend_schema(tags=["pacs"])
class IntegrationViewSet(ScopedViewSet):
    paged_actions = frozenset({"events"})
    permission_classes = [DomainUser]
    pagination_class = NewestFirst
    serializer_class = IntegrationOut
    lookup_field = "integration_id"
    not_found = "No integration with this id that you can see."
    queryset = PacsIntegration.objects.none()  # for the schema generator

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return integrations_visible_to(signed_in_user(self.request))

    @extend_schema(responses=IntegrationOut(many=True))
    def list(self, request: Request) -> Response:
        """Your integrations (a domain admin: all of the domain's), newest first."""
        return self.page(self.get_queryset(), IntegrationOut)

    @extend_schema(request=IntegrationIn, responses={201: IntegrationOut})
    def create(self, request: Request) -> Response:
        """Connect a PACS; then create a token for its gateway."""
        user = signed_in_user(request)
        integration = services.integration_create(
            owner=user, actor=user, **self.read(IntegrationIn, request)
        )
        return Response(IntegrationOut(integration).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=IntegrationOut)
    def retrieve(self, request: Request, integration_id: str) -> Response:
        return Response(IntegrationOut(self.get_object()).data)

    @extend_schema(request=IntegrationChangeIn, responses=IntegrationOut)
    def partial_update(self, request: Request, integration_id: str) -> Response:
        integration = self.get_object()
        changes = self.read(IntegrationChangeIn, request)
        integration = services.integration_update(
            integration=integration, actor=signed_in_user(request), changes=changes
        )
        return Response(IntegrationOut(integration).data)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, integration_id: str) -> Response:
        """Delete the integration: its tokens answer 401 at once; a domain admin can restore it
        from the portal for UNDO_WINDOW_HOURS (24 h), after which its devices, door mappings,
        events and tokens are purged."""
        services.integration_delete(integration=self.get_object(), actor=signed_in_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _tokens(self, integration: PacsIntegration):
        return ApiToken.objects.filter(kind=TokenKind.PACS, subject=integration.integration_id)

    @extend_schema(responses=PacsTokenOut(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def tokens(self, request: Request, integration_id: str) -> Response:
        """The integration's PACS tokens (prefixes only)."""
        return Response(PacsTokenOut(self._tokens(self.get_object()), many=True).data)

    def _issued(self, issue: Any) -> Response:
        """Issue (or rotate) a PACS token with ``issue`` and answer it, shown once."""
        token, raw = issue(integration=self.get_object(), actor=signed_in_user(self.request))
        return Response(
            NewPacsTokenOut({**PacsTokenOut(token).data, "token": raw}).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=None, responses={201: NewPacsTokenOut})
    @action(detail=True, methods=["post"], url_path="tokens/new")
    def new_token(self, request: Request, integration_id: str) -> Response:
        """A new PACS token for the gateway (shown once)."""
        return self._issued(services.integration_token_issue)

    @extend_schema(request=None, responses={201: NewPacsTokenOut})
    @action(detail=True, methods=["post"], url_path="tokens/rotate")
    def rotate_token(self, request: Request, integration_id: str) -> Response:
        """A new PACS token; every other token of the integration is revoked."""
        return self._issued(services.integration_token_rotate)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"tokens/(?P<prefix>cpp_[A-Za-z0-9]+)")
    def revoke_token(self, request: Request, integration_id: str, prefix: str) -> Response:
        """Revoke one PACS token."""
        token = self._tokens(self.get_object()).filter(prefix=prefix).first()
        if token is None:
            raise NotFound("No token with this prefix on this integration.")
        token_revoke(token=token, actor=signed_in_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses=PacsDeviceOut(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def devices(self, request: Request, integration_id: str) -> Response:
        """The doors and readers the PACS sent, with the cameras mapped to each."""
        rows = self.get_object().devices.prefetch_related("cameras")
        return Response(PacsDeviceOut([_device_out(d) for d in rows], many=True).data)

    @extend_schema(request=PacsDeviceMapIn, responses=PacsDeviceOut)
    @action(detail=True, methods=["patch"], url_path=r"devices/(?P<device_id>[^/]+)")
    def map_device(self, request: Request, integration_id: str, device_id: str) -> Response:
        """Set the cameras that see this door or reader (its events then stay with them)."""
        integration = self.get_object()
        device = integration.devices.filter(device_id=device_id).first()
        if device is None:
            raise NotFound("No device with this id on this integration.")
        wanted = self.read(PacsDeviceMapIn, request).get("camera_ids")
        if wanted is not None:  # left out: nothing to change
            services.device_map(
                device=device, cameras=_cameras(device, wanted), actor=signed_in_user(request)
            )
        device = integration.devices.prefetch_related("cameras").get(pk=device.pk)
        return Response(PacsDeviceOut(_device_out(device)).data)

    @extend_schema(responses=PacsEventOut(many=True))
    @action(detail=True, methods=["get"], pagination_class=NewestReceivedFirst)
    def events(self, request: Request, integration_id: str) -> Response:
        """Recent events: labels, relayed or kept with a camera, and in which batch."""
        rows = PacsEvent.objects.filter(integration=self.get_object()).defer("body")
        return self.page(rows, PacsEventOut)
