"""The portal route walk (tests/test_domain_isolation.py): every route with a domain or
an object in it, and the state a refused request must leave alone."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, get_resolver

from callbacks.models import Delivery, Endpoint, ReplayJob, SigningKey
from domains.models import ApiToken, AuditEntry, DomainAdministrator

PUBLIC = {"domains:home", "domains:index", "domains:invitation_accept"}
# The signed-in user's own pages: everyone sees only their own (tested below).
OWN = {"domains:tokens", "pacs:list"}
# The PACS gateway's API routes (PACS tokens only: tests/test_pacs_ingest.py).
GATEWAY = {"pacs:devices", "pacs:webhooks"}


def portal_routes() -> list[tuple[str | None, str]]:
    resolver = get_resolver()
    found = []
    for pattern in resolver.url_patterns:
        namespace = getattr(pattern, "namespace", None)
        if namespace not in ("domains", "incidents", "pacs"):
            continue
        assert isinstance(pattern, URLResolver)  # an app's include()
        for route in pattern.url_patterns:
            assert isinstance(route, URLPattern)
            if f"{namespace}:{route.name}" not in PUBLIC | OWN | GATEWAY:
                found.append((route.name, str(route.pattern)))
    return found


def state() -> tuple:
    return (
        list(Endpoint.objects.values_list("endpoint_id", "enabled", "deleted_at", "url")),
        list(SigningKey.objects.values_list("key_id", "expires_at")),
        Delivery.objects.count(),
        ReplayJob.objects.count(),
        AuditEntry.objects.count(),
        DomainAdministrator.objects.count(),
        list(ApiToken.objects.values_list("prefix", "revoked_at")),
    )
