from rest_framework.routers import SimpleRouter

from pacs.api.views import IntegrationViewSet

app_name = "pacs_api"

router = SimpleRouter(trailing_slash=False)
router.register("pacs/integrations", IntegrationViewSet, basename="pacs-integration")
urlpatterns = router.urls
