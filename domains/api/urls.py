"""``/api/``: the integrator REST API, its OpenAPI schema and interactive docs."""

from __future__ import annotations

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny
from rest_framework.routers import SimpleRouter

from domains.api.views.domains import DomainViewSet, MeView
from domains.api.views.endpoints import EndpointViewSet, ReplayJobViewSet
from domains.api.views.hooks import MyHookViewSet
from domains.api.views.inventory import CameraViewSet, DeviceViewSet, ZoneViewSet
from domains.api.views.log import DeliveryViewSet, EventTypeViewSet, EventViewSet

app_name = "api"

router = SimpleRouter(trailing_slash=False)
router.register("users/me/hooks", MyHookViewSet, basename="hook")
router.register("domains", DomainViewSet, basename="domain")
router.register("endpoints", EndpointViewSet, basename="endpoint")
router.register("replays", ReplayJobViewSet, basename="replay")
router.register("event-types", EventTypeViewSet, basename="event-type")
router.register("events", EventViewSet, basename="event")
router.register("deliveries", DeliveryViewSet, basename="delivery")
router.register("devices", DeviceViewSet, basename="device")
router.register("cameras", CameraViewSet, basename="camera")
router.register("zones", ZoneViewSet, basename="zone")

urlpatterns = [
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
    path("users/me", MeView.as_view(), name="me"),
    path("", include(router.urls)),
]
