from django.urls import re_path

from apikit.viewsets import GIVEN_ID
from incidents.api.views import CounterReportView

app_name = "incidents_api"

urlpatterns = [
    re_path(
        rf"^devices/(?P<device_id>{GIVEN_ID})/counters$",
        CounterReportView.as_view(),
        name="counters",
    ),
]
