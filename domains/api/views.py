"""The domains API: the signed-in user, domains, their Box inventory (devices, cameras,
zones) and a user's hooks."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from apikit.pagination import NewestFirst
from apikit.permissions import DomainUser
from apikit.viewsets import AdminViewSet, ScopedViewSet, domain_user
from domains import services
from domains.api.serializers import (
    CameraChangeIn,
    CameraIn,
    CameraOut,
    DeviceChangeIn,
    DeviceIn,
    DeviceOut,
    DomainChangeIn,
    DomainOut,
    HookIn,
    HookOut,
    MeOut,
    ZoneChangeIn,
    ZoneIn,
    ZoneOut,
)
from domains.models import Camera, Device, Domain, Hook, Zone, signed_in_user
from domains.services import domain_update


class MeView(GenericAPIView):
    serializer_class = MeOut

    @extend_schema(operation_id="users_me", responses=MeOut, tags=["users"])
    def get(self, request: Request) -> Response:
        """Who the token belongs to, their domain and the domains they administer."""
        user = signed_in_user(request)
        user.administers = list(Domain.objects.administered_by(user).values_list("name", flat=True))
        return Response(MeOut(user).data)


@extend_schema(tags=["domains"])
class DomainViewSet(AdminViewSet):
    lookup_field = "name"
    pagination_class = None
    serializer_class = DomainOut

    def get_queryset(self):
        return self.administered().prefetch_related("administrators__user")

    def get_object(self) -> Domain:
        self.kwargs["name"] = self.kwargs["name"].strip().lower()  # names are stored lower-case
        return super().get_object()

    @extend_schema(responses=DomainOut(many=True))
    def list(self, request: Request) -> Response:
        """The registered domains you administer."""
        return Response(DomainOut(self.get_queryset(), many=True).data)

    @extend_schema(responses=DomainOut)
    def retrieve(self, request: Request, name: str) -> Response:
        return Response(DomainOut(self.get_object()).data)

    @extend_schema(request=DomainChangeIn, responses=DomainOut)
    def partial_update(self, request: Request, name: str) -> Response:
        """Change the domain's setting (the upload-queue incident threshold)."""
        domain = self.get_object()
        data = self.read(DomainChangeIn, request)
        field = "min_upload_queue_length_for_incident_creation"
        if field in data:
            domain_update(domain=domain, actor=signed_in_user(request), **{field: data[field]})
        return Response(DomainOut(self.get_queryset().get(pk=domain.pk)).data)


def _device(domain: Domain, device_id: str) -> Device:
    device = Device.objects.filter(domain=domain, device_id=device_id).first()
    if device is None:
        raise ValidationError({"device_id": [f"No Box {device_id!r} in {domain.name}."]})
    return device


def _camera(domain: Domain, camera_id: str) -> Camera:
    camera = Camera.objects.filter(domain=domain, camera_id=camera_id).first()
    if camera is None:
        raise ValidationError({"camera_id": [f"No camera {camera_id!r} in {domain.name}."]})
    return camera


class InventoryViewSet(AdminViewSet):
    pagination_class = NewestFirst
    model: type
    # Input fields naming other objects; a model's own id (DeviceIn.device_id,
    # CameraIn.camera_id) names the new object instead.
    reference_fields: tuple[str, ...] = ()

    def get_queryset(self):
        return self.model.objects.filter(domain__in=self.administered()).select_related(
            "domain", *self.related
        )

    def references(self, domain: Domain, data: dict[str, Any]) -> dict[str, Any]:
        """Turn public ids and e-mails in ``data`` into the domain's objects."""
        fields = self.reference_fields
        if "owner" in data and "owner" in fields:
            data["owner"] = domain_user(domain, data["owner"])
        if "device_id" in data and "device_id" in fields:
            data["device"] = _device(domain, data.pop("device_id"))
        if "camera_id" in data and "camera_id" in fields:
            data["camera"] = _camera(domain, data.pop("camera_id"))
        return data


@extend_schema(tags=["inventory"])
class DeviceViewSet(InventoryViewSet):
    model = Device
    related = ("owner",)
    reference_fields = ("owner",)
    lookup_field = "device_id"
    serializer_class = DeviceOut

    @extend_schema(responses=DeviceOut(many=True))
    def list(self, request: Request) -> Response:
        """Your domain's Boxes, newest first."""
        return self.page(self.get_queryset(), DeviceOut)

    @extend_schema(request=DeviceIn, responses={201: DeviceOut})
    def create(self, request: Request) -> Response:
        """Register a Box."""
        domain = self.home_domain()
        data = self.references(domain, self.read(DeviceIn, request))
        data.setdefault("owner", signed_in_user(request))
        device = services.device_create(actor=signed_in_user(request), **data)
        return Response(DeviceOut(device).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=DeviceOut)
    def retrieve(self, request: Request, device_id: str) -> Response:
        return Response(DeviceOut(self.get_object()).data)

    @extend_schema(request=DeviceChangeIn, responses=DeviceOut)
    def partial_update(self, request: Request, device_id: str) -> Response:
        device = self.get_object()
        changes = self.references(device.domain, self.read(DeviceChangeIn, request))
        device = services.device_update(
            device=device, actor=signed_in_user(request), changes=changes
        )
        return Response(DeviceOut(device).data)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, device_id: str) -> Response:
        """Delete a Box with its cameras and their zones (each announces its deletion)."""
        services.device_delete(device=self.get_object(), actor=signed_in_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["inventory"])
class CameraViewSet(InventoryViewSet):
    model = Camera
    related = ("owner", "device")
    reference_fields = ("owner", "device_id")
    lookup_field = "camera_id"
    serializer_class = CameraOut

    @extend_schema(responses=CameraOut(many=True))
    def list(self, request: Request) -> Response:
        """Your domain's cameras, newest first."""
        return self.page(self.get_queryset(), CameraOut)

    @extend_schema(request=CameraIn, responses={201: CameraOut})
    def create(self, request: Request) -> Response:
        """Add a camera on a Box; emits camera.created."""
        domain = self.home_domain()
        data = self.references(domain, self.read(CameraIn, request))
        data.setdefault("owner", signed_in_user(request))
        camera = services.camera_create(actor=signed_in_user(request), **data)
        return Response(CameraOut(camera).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=CameraOut)
    def retrieve(self, request: Request, camera_id: str) -> Response:
        return Response(CameraOut(self.get_object()).data)

    @extend_schema(request=CameraChangeIn, responses=CameraOut)
    def partial_update(self, request: Request, camera_id: str) -> Response:
        """Change a camera; emits camera.updated when something changed."""
        camera = self.get_object()
        changes = self.references(camera.domain, self.read(CameraChangeIn, request))
        camera = services.camera_update(
            camera=camera, actor=signed_in_user(request), changes=changes
        )
        return Response(CameraOut(camera).data)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, camera_id: str) -> Response:
        """Delete a camera and its zones; emits zone.deleted and camera.deleted."""
        services.camera_delete(camera=self.get_object(), actor=signed_in_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["inventory"])
class ZoneViewSet(InventoryViewSet):
    model = Zone
    related = ("camera",)
    reference_fields = ("camera_id",)
    lookup_field = "zone_id"
    serializer_class = ZoneOut

    @extend_schema(responses=ZoneOut(many=True))
    def list(self, request: Request) -> Response:
        """Your domain's zones, newest first."""
        return self.page(self.get_queryset(), ZoneOut)

    @extend_schema(request=ZoneIn, responses={201: ZoneOut})
    def create(self, request: Request) -> Response:
        """Add a zone to a camera; emits zone.created."""
        data = self.references(self.home_domain(), self.read(ZoneIn, request))
        zone = services.zone_create(actor=signed_in_user(request), **data)
        return Response(ZoneOut(zone).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=ZoneOut)
    def retrieve(self, request: Request, zone_id: str) -> Response:
        return Response(ZoneOut(self.get_object()).data)

    @extend_schema(request=ZoneChangeIn, responses=ZoneOut)
    def partial_update(self, request: Request, zone_id: str) -> Response:
        """Rename a zone or change its polygons; emits zone.updated."""
        zone = self.get_object()
        changes = self.read(ZoneChangeIn, request)
        zone = services.zone_update(zone=zone, actor=signed_in_user(request), changes=changes)
        return Response(ZoneOut(zone).data)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, zone_id: str) -> Response:
        """Delete a zone; emits zone.deleted."""
        services.zone_delete(zone=self.get_object(), actor=signed_in_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["hooks"])
class MyHookViewSet(ScopedViewSet):
    permission_classes = [DomainUser]
    pagination_class = NewestFirst
    lookup_field = "hook_id"
    serializer_class = HookOut
    not_found = "You have no hook with this id."

    queryset = Hook.objects.none()  # for the schema generator, which has no user

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        user = signed_in_user(self.request)
        return Hook.objects.filter(owner=user, domain_id=user.domain_id).select_related("owner")

    @extend_schema(operation_id="users_me_hooks_list", responses=HookOut(many=True))
    def list(self, request: Request) -> Response:
        """Your hooks, newest first."""
        return self.page(self.get_queryset(), HookOut)

    @extend_schema(operation_id="users_me_hooks_create", request=HookIn, responses={201: HookOut})
    def create(self, request: Request) -> Response:
        """Save a hook; emits hook.created to the domain's subscribed endpoints."""
        hook = services.hook_create(owner=signed_in_user(request), **self.read(HookIn, request))
        return Response(HookOut(hook).data, status=status.HTTP_201_CREATED)

    @extend_schema(operation_id="users_me_hooks_retrieve", responses=HookOut)
    def retrieve(self, request: Request, hook_id: str) -> Response:
        return Response(HookOut(self.get_object()).data)

    @extend_schema(operation_id="users_me_hooks_destroy", responses={204: None})
    def destroy(self, request: Request, hook_id: str) -> Response:
        """Delete a hook; emits hook.deleted."""
        services.hook_delete(hook=self.get_object(), actor=signed_in_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
