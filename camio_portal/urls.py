"""URL wiring: each app owns its routes; this module only mounts them."""

from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny

from callbacks.api.views import jwks_document
from camio_portal import health
from camio_portal.metrics import metrics

admin.site.site_header = "Camio Portal support"
admin.site.site_title = "Camio Portal support"
admin.site.index_title = "Domains, inventory and callbacks"

# The integrator API (``api:`` names): its OpenAPI schema and docs, then each app's routes.
api: list[URLPattern | URLResolver] = [
    path(
        "schema/",
        SpectacularAPIView.as_view(permission_classes=[AllowAny], authentication_classes=[]),
        name="schema",
    ),
    path(
        "docs/",
        SpectacularSwaggerView.as_view(
            url_name="api:schema", permission_classes=[AllowAny], authentication_classes=[]
        ),
        name="docs",
    ),
    path("", include("domains.api.urls")),
    path("", include("callbacks.api.urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    # A domain's ed25519 public keys (JWKS), public, under an opaque id.
    path(".well-known/camio-webhooks/<str:jwks_id>/jwks.json", jwks_document, name="jwks"),
    path("metrics", metrics, name="metrics"),  # Prometheus (camio_portal/metrics.py)
    path("healthz", health.healthz, name="healthz"),
    path("livez", health.livez, name="livez"),
    path("readyz", health.readyz, name="readyz"),
    path("api/", include("incidents.api.urls")),
    path("api/", include("pacs.api.urls")),
    path("api/", include((api, "api"))),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("domains.urls")),
    path("", include("incidents.urls")),
    path("", include("pacs.urls")),
]

# /api/ and /pacs/ paths answer errors as JSON ({"errors": ...}); other paths get the pages.
handler400 = "apikit.errors.bad_request"
handler404 = "apikit.errors.not_found"
handler500 = "apikit.errors.server_error"
