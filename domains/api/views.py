"""The domains API: the signed-in user, domains, their Box inventory (devices, cameras,
zones) and a user's hooks."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from apikit.pagination import NewestFirst
from apikit.permissions import DomainUser
from apikit.viewsets import GIVEN_ID, AdminViewSet, ScopedViewSet, StrictQuery, domain_user
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


class MeView(StrictQuery, GenericAPIView):
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
    lookup_value_regex = "[^/]+"
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


# Boxes, cameras and zones: the same five routes, each calling its object's service.
# Subclasses name the model, the shapes in and out and the services; ``inventory_schema``
# sets their operations' schemas and descriptions. No docstrings on this class or its
# methods: the OpenAPI document would take them as descriptions.
class InventoryViewSet(AdminViewSet):
    pagination_class = NewestFirst
    model: type[models.Model]
    serializer_class: type[serializers.Serializer]
    # Input fields naming other objects; a model's own id (DeviceIn.device_id,
    # CameraIn.camera_id) names the new object instead.
    reference_fields: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    create_in: type[serializers.Serializer]
    change_in: type[serializers.Serializer]

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

    def _out(self, obj: Any, status_code: int = status.HTTP_200_OK) -> Response:
        return Response(self.get_serializer_class()(obj).data, status=status_code)

    def _target(self) -> dict[str, Any]:
        return {str(self.model._meta.model_name): self.get_object()}

    def _service(self, action: str) -> Any:
        """The model's service for ``action``: services.camera_create, .zone_update, ..."""
        return getattr(services, f"{self.model._meta.model_name}_{action}")

    def list(self, request: Request) -> Response:
        return self.page(self.get_queryset(), self.serializer_class)

    def create(self, request: Request) -> Response:
        data = self.references(self.home_domain(), self.read(self.create_in, request))
        if "owner" in self.reference_fields:
            data.setdefault("owner", signed_in_user(request))
        obj = self._service("create")(actor=signed_in_user(request), **data)
        return self._out(obj, status.HTTP_201_CREATED)

    def retrieve(self, request: Request, **kwargs: str) -> Response:
        return self._out(self.get_object())

    def partial_update(self, request: Request, **kwargs: str) -> Response:
        target = self._target()
        (obj,) = target.values()
        changes = self.references(obj.domain, self.read(self.change_in, request))
        return self._out(
            self._service("update")(**target, actor=signed_in_user(request), changes=changes)
        )

    def destroy(self, request: Request, **kwargs: str) -> Response:
        self._service("delete")(**self._target(), actor=signed_in_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


def inventory_schema(
    out: type[serializers.Serializer],
    create_in: type[serializers.Serializer],
    change_in: type[serializers.Serializer],
    **descriptions: str,
) -> Any:
    """The class decorator giving an inventory viewset's five operations their schemas and
    descriptions (``list=``, ``create=``, ... ; an operation without one has none)."""
    shapes: dict[str, dict[str, Any]] = {
        "list": {"responses": out(many=True)},
        "create": {"request": create_in, "responses": {201: out}},
        "retrieve": {"responses": out},
        "partial_update": {"request": change_in, "responses": out},
        "destroy": {"responses": {204: None}},
    }
    return extend_schema_view(
        **{
            name: extend_schema(**shape, description=descriptions.get(name))
            for name, shape in shapes.items()
        }
    )


@extend_schema(tags=["inventory"])
@inventory_schema(
    DeviceOut,
    DeviceIn,
    DeviceChangeIn,
    list="Your domain's Boxes, newest first.",
    create="Register a Box.",
    destroy="Delete a Box with its cameras and their zones (each announces its deletion).",
)
class DeviceViewSet(InventoryViewSet):
    model = Device
    related = ("owner",)
    reference_fields = ("owner",)
    lookup_field = "device_id"
    lookup_value_regex = GIVEN_ID
    serializer_class = DeviceOut
    create_in, change_in = DeviceIn, DeviceChangeIn


@extend_schema(tags=["inventory"])
@inventory_schema(
    CameraOut,
    CameraIn,
    CameraChangeIn,
    list="Your domain's cameras, newest first.",
    create="Add a camera on a Box; emits camera.created.",
    partial_update="Change a camera; emits camera.updated when something changed.",
    destroy="Delete a camera and its zones; emits zone.deleted and camera.deleted.",
)
class CameraViewSet(InventoryViewSet):
    model = Camera
    related = ("owner", "device")
    reference_fields = ("owner", "device_id")
    lookup_field = "camera_id"
    lookup_value_regex = GIVEN_ID
    serializer_class = CameraOut
    create_in, change_in = CameraIn, CameraChangeIn


@extend_schema(tags=["inventory"])
@inventory_schema(
    ZoneOut,
    ZoneIn,
    ZoneChangeIn,
    list="Your domain's zones, newest first.",
    create="Add a zone to a camera; emits zone.created.",
    partial_update="Rename a zone or change its polygons; emits zone.updated.",
    destroy="Delete a zone; emits zone.deleted.",
)
class ZoneViewSet(InventoryViewSet):
    model = Zone
    related = ("camera",)
    reference_fields = ("camera_id",)
    lookup_field = "zone_id"
    serializer_class = ZoneOut
    create_in, change_in = ZoneIn, ZoneChangeIn


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
