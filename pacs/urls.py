from django.urls import path

from pacs.api import DevicesView, WebhooksView

app_name = "pacs"

urlpatterns = [
    path("pacs/devices", DevicesView.as_view(), name="devices"),
    path("pacs/webhooks", WebhooksView.as_view(), name="webhooks"),
]
