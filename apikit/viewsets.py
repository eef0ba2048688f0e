"""What every admin route shares: the caller's domains, one object by public id."""

from __future__ import annotations

from typing import Any, cast

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db.models import QuerySet
from rest_framework import serializers, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.exceptions import ValidationError as BadRequest
from rest_framework.request import Request
from rest_framework.response import Response

from apikit.permissions import DomainAdmin
from domains.models import Domain, User, signed_in_user


class ScopedViewSet(viewsets.GenericViewSet):
    """A viewset whose queryset is already scoped to the caller: an id outside it answers
    404, exactly as one that exists nowhere."""

    lookup_value_regex = "[^/]+"
    not_found = "Nothing with this id in your domain."

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        """Refuse a query parameter given twice: none of ours is a list."""
        super().initial(request, *args, **kwargs)
        repeated = sorted(name for name, values in request.query_params.lists() if len(values) > 1)
        if repeated:
            raise BadRequest({name: ["Give this parameter once."] for name in repeated})

    def flag(self, request: Request, name: str) -> bool:
        """A boolean query parameter: true or false (absent: false); else a 400."""
        value = request.query_params.get(name)
        if value not in (None, "true", "false"):
            raise BadRequest({name: ["true or false."]})
        return value == "true"

    def get_object(self) -> Any:
        value = self.kwargs[self.lookup_url_kwarg or self.lookup_field]
        try:
            return self.get_queryset().get(**{self.lookup_field: value})
        except (ObjectDoesNotExist, ValidationError, ValueError):
            raise NotFound(self.not_found) from None

    def read(self, serializer_class: type[serializers.Serializer], request: Request) -> dict:
        """Validate ``request.data`` with ``serializer_class``; 400 names each bad field."""
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def page(self, queryset: QuerySet, out: type[serializers.Serializer]) -> Response:
        rows = self.paginate_queryset(queryset)
        return self.get_paginated_response(out(rows, many=True).data)


class AdminViewSet(ScopedViewSet):
    """Routes for a domain's administrators; objects outside their domains answer 404."""

    permission_classes = [DomainAdmin]

    def administered(self) -> QuerySet[Domain]:
        return Domain.objects.administered_by(signed_in_user(self.request))

    def home_domain(self) -> Domain:
        """The domain new objects join: the caller's own (DomainAdmin checked it is theirs)."""
        user = signed_in_user(self.request)
        # A domain's administrators are its users (domain_admin_add), so domain_id is set.
        return self.administered().get(pk=cast(int, user.domain_id))


def domain_user(domain: Domain, email: str, field: str = "owner") -> User:
    """Return the user ``email`` of ``domain``, or a 400 naming ``field``."""
    user = User.objects.filter(email=email.strip().lower(), domain=domain, is_active=True).first()
    if user is None:
        raise ValidationError({field: [f"{email} is not a user of {domain.name}."]})
    return user
