"""A domain admin's incident pages: the incident list and a camera's counter history."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from domains.models import Camera, Domain
from incidents.models import CounterRule, Incident
from incidents.selectors import counter_history, incidents_of


def _domain(request: HttpRequest, name: str) -> Domain:
    return get_object_or_404(Domain.objects.administered_by(request.user), name=name.lower())


@login_required
@require_GET
def incident_list(request: HttpRequest, name: str) -> HttpResponse:
    """The domain's incidents, newest first; filter by camera and counter."""
    domain = _domain(request, name)
    camera_id, counter = request.GET.get("camera", ""), request.GET.get("counter", "")
    page = Paginator(incidents_of(domain, camera_id, counter), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "incidents/list.html",
        {
            "domain": domain,
            "page": page,
            "camera_id": camera_id,
            "counter": counter,
            "cameras": Camera.objects.filter(domain=domain).order_by("name"),
            "counters": CounterRule.objects.values_list("counter", flat=True),
        },
    )


@login_required
@require_GET
def camera_counters(request: HttpRequest, name: str, camera_id: str) -> HttpResponse:
    """A camera's counters over the last 24 hours (hourly bars) and its latest incidents."""
    domain = _domain(request, name)
    camera = get_object_or_404(Camera, domain=domain, camera_id=camera_id)
    return render(
        request,
        "incidents/camera.html",
        {
            "domain": domain,
            "camera": camera,
            "series": counter_history(camera, 24),
            "incidents": Incident.objects.filter(camera=camera)[:20],
        },
    )
