"""``/api/`` routes of callbacks: endpoints, replays, event types, events, deliveries.

camio_portal.urls mounts them with domains' routes under the one ``api`` namespace.
"""

from __future__ import annotations

from rest_framework.routers import SimpleRouter

from callbacks.api.views import (
    DeliveryViewSet,
    EndpointViewSet,
    EventTypeViewSet,
    EventViewSet,
    ReplayJobViewSet,
)

router = SimpleRouter(trailing_slash=False)
router.register("endpoints", EndpointViewSet, basename="endpoint")
router.register("replays", ReplayJobViewSet, basename="replay")
router.register("event-types", EventTypeViewSet, basename="event-type")
router.register("events", EventViewSet, basename="event")
router.register("deliveries", DeliveryViewSet, basename="delivery")

urlpatterns = router.urls
