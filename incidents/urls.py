from django.urls import path

from incidents import pages

app_name = "incidents"

urlpatterns = [
    path("domains/<str:name>/incidents", pages.incident_list, name="list"),
    path(
        "domains/<str:name>/cameras/<str:camera_id>/counters",
        pages.camera_counters,
        name="camera",
    ),
]
