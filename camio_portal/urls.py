"""URL wiring: each app owns its routes."""

from django.contrib import admin
from django.urls import include, path

from camio_portal.metrics import metrics

admin.site.site_header = "Camio Portal support"
admin.site.site_title = "Camio Portal support"
admin.site.index_title = "Domains, inventory and callbacks"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("metrics", metrics, name="metrics"),  # Prometheus (camio_portal/metrics.py)
    path("api/", include("incidents.api_urls")),
    path("api/", include("pacs.api_urls")),
    path("api/", include("domains.api.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("domains.urls")),
    path("", include("incidents.urls")),
    path("", include("pacs.urls")),
]

# /api/ and /pacs/ paths answer errors as JSON ({"errors": ...}); other paths get the pages.
handler400 = "domains.api.errors.bad_request"
handler404 = "domains.api.errors.not_found"
handler500 = "domains.api.errors.server_error"
