"""What every admin route shares: the caller's domains, one object by public id."""

from __future__ import annotations

from typing import Any, cast

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.exceptions import ValidationError as BadRequest
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings

from apikit import fields
from apikit.permissions import DomainAdmin
from domains.models import Domain, User, signed_in_user

# The ids a route's path takes (the schema states each; another spelling answers 404).
GENERATED_ID = "[0-9A-Z]{24}"  # domains.models.new_public_id
GIVEN_ID = fields.PUBLIC_ID.strip("^$")  # a Box's or camera's own id, or a generated one
UUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


class StrictQuery:
    """Refuse a query parameter the route does not take (a misspelt filter would otherwise
    answer everything) or one given twice: none of ours is a list. The names taken are the
    schema's: the paginator's, the filter set's (list only) and those @extend_schema names."""

    # The actions that page their answer (cursor and limit), besides list.
    paged_actions: frozenset[str] = frozenset()

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        method = (request.method or "GET").lower()
        if not hasattr(self, method):
            return  # a method the route does not take: 405 says so, whatever the query
        action = getattr(self, "action", None) or method
        # ?format= is the browsable API's (its json/api links); every route takes it.
        declared = _query_names(type(self), action, method.upper(), self)
        unknown = sorted(set(request.query_params) - declared - {FORMAT})
        if unknown:
            takes = ", ".join(sorted(declared)) or "no query parameters"
            message = f"Unknown query parameter; this route takes {takes}."
            raise BadRequest({name[:100]: [message] for name in unknown[:10]})
        repeated = sorted(name for name, values in request.query_params.lists() if len(values) > 1)
        if repeated:
            raise BadRequest({name: ["Give this parameter once."] for name in repeated})


class ScopedViewSet(StrictQuery, viewsets.GenericViewSet):
    """A viewset whose queryset is already scoped to the caller: an id outside it answers
    404, exactly as one that exists nowhere."""

    lookup_value_regex = GENERATED_ID
    not_found = "Nothing with this id in your domain."

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


FORMAT = api_settings.URL_FORMAT_OVERRIDE or "format"
_QUERY_NAMES: dict[tuple[type, str, str], frozenset[str]] = {}


def _query_names(cls: type, action: str, method: str, view: Any) -> frozenset[str]:
    key = (cls, action, method)
    if key not in _QUERY_NAMES:
        names: set[str] = set()
        paginator = getattr(view, "paginator", None)
        if (action == "list" or action in view.paged_actions) and paginator is not None:
            names |= {p["name"] for p in paginator.get_schema_operation_parameters(view)}
        filterset = getattr(view, "filterset_class", None)
        if action == "list" and filterset is not None:
            names |= set(filterset.base_filters)
        schema_class = getattr(getattr(cls, action, None), "kwargs", {}).get("schema")
        if schema_class is not None:  # drf-spectacular's @extend_schema on the action
            schema = schema_class()
            schema.view, schema.method = view, method
            names |= {
                p.name
                for p in schema.get_override_parameters()
                if isinstance(p, OpenApiParameter) and p.location == OpenApiParameter.QUERY
            }
        _QUERY_NAMES[key] = frozenset(names)
    return _QUERY_NAMES[key]
