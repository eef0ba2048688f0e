from django.urls import path

from domains import views

app_name = "domains"

urlpatterns = [
    path("", views.home, name="home"),
    path("domains", views.domains_index, name="index"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("healthz", views.healthz, name="healthz"),
]
