"""Who may see what: the domain a signed-in admin administers, its live endpoints, and
the names and links the pages share. Every page asks here first."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.urls import reverse

from callbacks.models import Endpoint
from domains.formats import mask_url
from domains.models import Domain, signed_in_user


def administered_domain(request: HttpRequest, name: str) -> Domain:
    """Return the domain ``name`` if the signed-in user administers it, else 404."""
    return get_object_or_404(Domain.objects.administered_by(request.user), name=name.lower())


def domain_endpoint(domain: Domain, endpoint_id: str) -> Endpoint:
    return get_object_or_404(Endpoint.objects.live(), domain=domain, endpoint_id=endpoint_id)


def domain_url(domain: Domain) -> str:
    return reverse("domains:domain", args=[domain.name])


def endpoint_name(endpoint: Endpoint) -> str:
    return f"{endpoint.method} {mask_url(endpoint.url)}"


def as_primary(request: HttpRequest, name: str) -> Domain:
    domain = administered_domain(request, name)
    if not domain.administrators.filter(user=signed_in_user(request), is_primary=True).exists():
        raise PermissionDenied("Only the primary admin manages co-admins.")
    return domain
