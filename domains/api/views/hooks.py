"""Camio's user hooks: ``/api/users/me/hooks``, for any user of a registered domain."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from domains import services
from domains.api.pagination import NewestFirst
from domains.api.permissions import DomainUser
from domains.api.serializers import HookIn, HookOut
from domains.api.views.base import ScopedViewSet
from domains.models import Hook, signed_in_user


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
