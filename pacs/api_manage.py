"""``/api/pacs/integrations``: a user's PACS integrations, their tokens, their doors and
readers (mapped to cameras) and their recent events. Any user of a registered domain
manages their own; a domain's admins see every integration of the domain."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from domains.api import fields
from domains.api.pagination import NewestFirst
from domains.api.permissions import DomainUser
from domains.api.views.base import ScopedViewSet
from domains.models import ApiToken, Camera, TokenKind, signed_in_user
from domains.services import token_revoke
from pacs import services
from pacs.models import PacsDevice, PacsEvent, PacsIntegration, Vendor


class PacsOwnerOut(serializers.Serializer):
    user_id = serializers.CharField()
    email = serializers.EmailField()


class IntegrationOut(serializers.Serializer):
    integration_id = serializers.CharField()
    name = serializers.CharField()
    vendor = serializers.ChoiceField(choices=Vendor.choices)
    source_server = serializers.CharField()
    time_zone = serializers.CharField()
    domain = serializers.CharField(source="domain.name")
    owner = PacsOwnerOut()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


# The characters of a server address and of a time zone name; the services check the
# rest (domains.models.validate_server_address, pacs.models.validate_time_zone: 422).
SERVER_ADDRESS = r"^[A-Za-z0-9.:\[\]-]*$"
TIME_ZONE = r"^[A-Za-z0-9_+-]+(?:/[A-Za-z0-9_+-]+)*$"


class IntegrationChangeIn(fields.Input):
    name = fields.Text(max_length=200, required=False)
    vendor = serializers.ChoiceField(choices=Vendor.choices, required=False)
    source_server = fields.Pattern(
        SERVER_ADDRESS,
        max_length=255,
        required=False,
        allow_blank=True,
        help_text="A host name or address with an optional port, such as "
        "apac.int.acme.com:443, 10.0.0.5 or [2001:db8::1]:8443 (optional).",
    )
    time_zone = fields.Pattern(
        TIME_ZONE,
        max_length=64,
        required=False,
        help_text="For vendor times without an offset: UTC, America/Chicago, ...",
    )


class IntegrationIn(IntegrationChangeIn):
    name = fields.Text(max_length=200)
    vendor = serializers.ChoiceField(choices=Vendor.choices)


class PacsTokenOut(serializers.Serializer):
    prefix = serializers.CharField(help_text="The token's visible start.")
    name = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)


class NewPacsTokenOut(PacsTokenOut):
    token = serializers.CharField(help_text="Shown this once: the gateway sends it as Bearer.")


class PacsDeviceOut(serializers.Serializer):
    device_id = serializers.CharField()
    device_name = serializers.CharField()
    camera_ids = serializers.ListField(child=serializers.CharField())


class PacsDeviceMapIn(fields.Input):
    camera_ids = serializers.ListField(
        child=fields.Pattern(fields.PUBLIC_ID, max_length=64),
        required=False,
        help_text="The cameras that see this door or reader (left out: unchanged).",
    )


class PacsEventOut(serializers.Serializer):
    id = serializers.UUIDField()
    entry_id = serializers.CharField()
    occurred_at = serializers.DateTimeField()
    labels = serializers.ListField(child=serializers.CharField())
    state = serializers.CharField(help_text="mapped (kept with its cameras), pending, relayed")
    batch_id = serializers.UUIDField(allow_null=True, help_text="The relay batch.")
    event_id = serializers.UUIDField(allow_null=True, help_text="The pacs.events.created event.")
    received_at = serializers.DateTimeField()


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


def _new_token(token: ApiToken, raw: str) -> Response:
    return Response(
        NewPacsTokenOut({**PacsTokenOut(token).data, "token": raw}).data,
        status=status.HTTP_201_CREATED,
    )


@extend_schema(tags=["pacs"])
class IntegrationViewSet(ScopedViewSet):
    permission_classes = [DomainUser]
    pagination_class = NewestFirst
    serializer_class = IntegrationOut
    lookup_field = "integration_id"
    not_found = "No integration with this id that you can see."
    queryset = PacsIntegration.objects.none()  # for the schema generator

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return services.integrations_visible_to(signed_in_user(self.request))

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
        """Delete the integration with its devices and events; its tokens stop working."""
        services.integration_delete(integration=self.get_object(), actor=signed_in_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _tokens(self, integration: PacsIntegration):
        return ApiToken.objects.filter(kind=TokenKind.PACS, subject=integration.integration_id)

    @extend_schema(responses=PacsTokenOut(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def tokens(self, request: Request, integration_id: str) -> Response:
        """The integration's PACS tokens (prefixes only)."""
        return Response(PacsTokenOut(self._tokens(self.get_object()), many=True).data)

    @extend_schema(request=None, responses={201: NewPacsTokenOut})
    @action(detail=True, methods=["post"], url_path="tokens/new")
    def new_token(self, request: Request, integration_id: str) -> Response:
        """A new PACS token for the gateway (shown once)."""
        token, raw = services.integration_token_issue(
            integration=self.get_object(), actor=signed_in_user(request)
        )
        return _new_token(token, raw)

    @extend_schema(request=None, responses={201: NewPacsTokenOut})
    @action(detail=True, methods=["post"], url_path="tokens/rotate")
    def rotate_token(self, request: Request, integration_id: str) -> Response:
        """A new PACS token; every other token of the integration is revoked."""
        token, raw = services.integration_token_rotate(
            integration=self.get_object(), actor=signed_in_user(request)
        )
        return _new_token(token, raw)

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
