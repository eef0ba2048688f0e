"""Reads of incidents for the pages: a domain's incidents, and a camera's counter history
(hourly sums with the rule drawn across each chart)."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db.models import QuerySet, Sum
from django.utils import timezone

from domains.charts import counter_chart
from domains.models import Camera, Domain
from incidents.models import CounterMinute, CounterRule, EvaluationLock, Incident
from incidents.services import subject_for


def incidents_of(domain: Domain, camera_id: str = "", counter: str = "") -> QuerySet[Incident]:
    """The domain's incidents, newest first, of one camera and one counter when given."""
    rows = Incident.objects.filter(domain=domain).select_related("camera", "device")
    if camera_id:
        rows = rows.filter(camera__camera_id=camera_id)
    if counter:
        rows = rows.filter(trips__counter=counter).distinct()
    return rows


def counter_history(camera: Camera, hours: int) -> list[dict]:
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


def queued_evaluations() -> int:
    """Boxes with an evaluation task queued and not yet started (the /metrics gauge; a
    mark older than INCIDENT_SWEEP_AFTER is a lost message the sweeper takes over)."""
    stale = timezone.now() - datetime.timedelta(seconds=settings.INCIDENT_SWEEP_AFTER)
    return EvaluationLock.objects.filter(queued_at__gte=stale).count()
