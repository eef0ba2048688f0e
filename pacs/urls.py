"""PACS routes (``pacs:`` names): the gateway's two API routes, and the portal's pages for
integrations, their tokens and their doors' cameras."""

from django.urls import path

from pacs import pages
from pacs.api.views import DevicesView, WebhooksView

app_name = "pacs"

INTEGRATION = "integrations/pacs/<str:integration_id>"

urlpatterns = [
    path("pacs/devices", DevicesView.as_view(), name="devices"),
    path("pacs/webhooks", WebhooksView.as_view(), name="webhooks"),
    path("integrations/pacs", pages.integration_list, name="list"),
    path(INTEGRATION, pages.integration_detail, name="integration"),
    path(f"{INTEGRATION}/delete", pages.integration_delete_page, name="delete"),
    path(f"{INTEGRATION}/restore", pages.integration_restore_page, name="restore"),
    path(f"{INTEGRATION}/tokens/new", pages.token_new_page, name="token_new"),
    path(f"{INTEGRATION}/tokens/rotate", pages.token_rotate_page, name="token_rotate"),
    path(f"{INTEGRATION}/tokens/<str:prefix>/revoke", pages.token_revoke_page, name="token_revoke"),
    path(f"{INTEGRATION}/devices/<str:device_id>/map", pages.device_map_page, name="device_map"),
]
