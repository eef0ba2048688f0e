"""URL wiring: each app owns its routes; this module only mounts them."""

from pathlib import Path

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
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
            url_name="api:schema", permission_classes=[AllowAny], authentication_classes=[],
            template_name="api/swagger_ui.html",  # Swagger UI under the portal's bar
        ),
        name="docs",
    ),
    path("", include("domains.api.urls")),
    path("", include("callbacks.api.urls")),
]

FAVICON = (Path(__file__).parent / "static" / "favicon.ico").read_bytes()


def favicon(request: HttpRequest) -> HttpResponse:
    """/favicon.ico, which browsers ask for on every page that names no icon (the admin's,
    Swagger's); the portal's pages link the same mark as SVG."""
    response = HttpResponse(FAVICON, content_type="image/x-icon")
    response["Cache-Control"] = "public, max-age=86400"
    return response


urlpatterns = [
    path("favicon.ico", favicon, name="favicon"),
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
