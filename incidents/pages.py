"""A domain admin's incident pages: the incident list and a camera's counter history."""

from __future__ import annotations

import datetime

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from domains.charts import counter_chart
from domains.models import Camera, Domain
from incidents.models import CounterMinute, CounterRule, Incident
from incidents.services import subject_for


def _domain(request: HttpRequest, name: str) -> Domain:
    return get_object_or_404(Domain.objects.administered_by(request.user), name=name.lower())


@login_required
@require_GET
def incident_list(request: HttpRequest, name: str) -> HttpResponse:
    """The domain's incidents, newest first; filter by camera and counter."""
    domain = _domain(request, name)
    rows = Incident.objects.filter(domain=domain).select_related("camera", "device")
    camera_id, counter = request.GET.get("camera", ""), request.GET.get("counter", "")
    if camera_id:
        rows = rows.filter(camera__camera_id=camera_id)
    if counter:
        rows = rows.filter(trips__counter=counter).distinct()
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
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


def _history(camera: Camera, hours: int) -> list[dict]:
    """Per counter: hourly sums over the last ``hours`` hours, scaled for bars."""
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    start = now - datetime.timedelta(hours=hours - 1)
    sums: dict[str, dict[datetime.datetime, int]] = {}
    minutes = CounterMinute.objects.filter(subject=subject_for(camera), minute__gte=start)
    for row in minutes.values("counter", "minute").annotate(total=Sum("total")):
        hour = row["minute"].replace(minute=0)
        sums.setdefault(row["counter"], {}).setdefault(hour, 0)
        sums[row["counter"]][hour] += row["total"]
    series = []
    rules = {rule.counter: rule for rule in CounterRule.objects.filter(counter__in=list(sums))}
    stamps = [start + datetime.timedelta(hours=i) for i in range(hours)]
    for counter, by_hour in sorted(sums.items()):
        values = [by_hour.get(stamp, 0) for stamp in stamps]
        rule = rules.get(counter)
        threshold = rule.threshold if rule is not None else None
        label = ""
        if rule is not None and threshold is not None:
            label = f"rule: {rule.get_comparison_display()} {threshold}"
            if rule.window_seconds:
                label += f" within {round(rule.window_seconds / 60)} minutes"
        series.append(
            {
                "counter": counter,
                "total": sum(values),
                "peak": max(values),
                "chart": counter_chart(stamps, values, threshold, label),
                "rows": list(zip(stamps, values, strict=True)),
            }
        )
    return series


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
            "series": _history(camera, 24),
            "incidents": Incident.objects.filter(camera=camera)[:20],
        },
    )
