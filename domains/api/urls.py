"""``/api/`` routes of domains: the signed-in user, domains, devices, cameras, zones, hooks.

camio_portal.urls mounts them with callbacks' routes under the one ``api`` namespace.
"""

from __future__ import annotations

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from domains.api.views import (
    CameraViewSet,
    DeviceViewSet,
    DomainViewSet,
    MeView,
    MyHookViewSet,
    ZoneViewSet,
)

router = SimpleRouter(trailing_slash=False)
router.register("users/me/hooks", MyHookViewSet, basename="hook")
router.register("domains", DomainViewSet, basename="domain")
router.register("devices", DeviceViewSet, basename="device")
router.register("cameras", CameraViewSet, basename="camera")
router.register("zones", ZoneViewSet, basename="zone")

urlpatterns = [
    path("users/me", MeView.as_view(), name="me"),
    path("", include(router.urls)),
]
