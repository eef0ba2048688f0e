from django.urls import path

from incidents.api.views import CounterReportView

app_name = "incidents_api"

urlpatterns = [
    path("devices/<str:device_id>/counters", CounterReportView.as_view(), name="counters"),
]
