"""The caller (``/api/users/me``) and the domains they administer."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from domains.api.serializers import DomainChangeIn, DomainOut, MeOut
from domains.api.views.base import AdminViewSet
from domains.models import Domain, signed_in_user
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
