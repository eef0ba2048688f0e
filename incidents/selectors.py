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
    """Per counter, over the last ``hours`` hours: for a counter with a windowed rule, the
    largest sum within any of the rule's windows that ended in each hour (what the rule
    compares with its threshold, so a bar over the line means the rule fired); otherwise
    each hour's sum."""
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    start = now - datetime.timedelta(hours=hours - 1)
    minutes: dict[str, dict[datetime.datetime, int]] = {}
    rows = CounterMinute.objects.filter(subject=subject_for(camera), minute__gte=start)
    for row in rows.values("counter", "minute").annotate(total=Sum("total")):
        minutes.setdefault(row["counter"], {})[row["minute"]] = row["total"]
    rules = {rule.counter: rule for rule in CounterRule.objects.filter(counter__in=list(minutes))}
    stamps = [start + datetime.timedelta(hours=i) for i in range(hours)]
    series = []
    for counter, by_minute in sorted(minutes.items()):
        by_hour: dict[datetime.datetime, int] = {}
        for minute, value in by_minute.items():
            by_hour[minute.replace(minute=0)] = by_hour.get(minute.replace(minute=0), 0) + value
        sums = [by_hour.get(stamp, 0) for stamp in stamps]
        rule = rules.get(counter)
        threshold = rule.threshold if rule is not None else None
        label, what, values = "", "sum", sums
        if rule is not None and threshold is not None:
            label = f"rule: {rule.get_comparison_display()} {threshold}"
            if rule.window_seconds:
                window = max(1, round(rule.window_seconds / 60))
                label += f" within {window} minutes"
                what = f"largest {window}-minute sum"
                values = _window_peaks(by_minute, stamps, window)
        series.append(
            {
                "counter": counter,
                "total": sum(sums),
                "peak": max(values),
                "what": what,
                "chart": counter_chart(stamps, values, threshold, label, what),
                "rows": list(zip(stamps, sums, values, strict=True)),
                "windowed": what != "sum",
            }
        )
    return series


def _window_peaks(by_minute: dict[datetime.datetime, int], stamps: list[datetime.datetime],
                  window: int) -> list[int]:
    """For each hour in ``stamps``: the largest sum over ``window`` consecutive minutes
    ending in that hour."""
    peaks = []
    step = datetime.timedelta(minutes=1)
    for stamp in stamps:
        best = 0
        running = sum(by_minute.get(stamp - step * k, 0) for k in range(1, window))
        for m in range(60):
            end = stamp + step * m
            running += by_minute.get(end, 0)
            best = max(best, running)
            running -= by_minute.get(end - step * (window - 1), 0)
        peaks.append(best)
    return peaks


def queued_evaluations() -> int:
    """Boxes with an evaluation task queued and not yet started (the /metrics gauge; a
    mark older than INCIDENT_SWEEP_AFTER is a lost message the sweeper takes over)."""
    stale = timezone.now() - datetime.timedelta(seconds=settings.INCIDENT_SWEEP_AFTER)
    return EvaluationLock.objects.filter(queued_at__gte=stale).count()
