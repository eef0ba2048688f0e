from django.urls import path

from pacs.api.views import DevicesView, WebhooksView

app_name = "pacs"

urlpatterns = [
    path("pacs/devices", DevicesView.as_view(), name="devices"),
    path("pacs/webhooks", WebhooksView.as_view(), name="webhooks"),
]

from pacs import pages  # noqa: E402  (portal pages beside the gateway's routes)

urlpatterns += [
    path("integrations/pacs", pages.integration_list, name="list"),
    path("integrations/pacs/<str:integration_id>", pages.integration_detail, name="integration"),
    path(
        "integrations/pacs/<str:integration_id>/delete",
        pages.integration_delete_page,
        name="delete",
    ),
    path(
        "integrations/pacs/<str:integration_id>/tokens/<str:prefix>/revoke",
        pages.token_revoke_page,
        name="token_revoke",
    ),
    path(
        "integrations/pacs/<str:integration_id>/devices/<str:device_id>/map",
        pages.device_map_page,
        name="device_map",
    ),
]
