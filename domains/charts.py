"""Server-rendered SVG charts for the portal's pages: geometry computed here, drawn by
templates/domains/_endpoint_chart.html. No script and no chart library: each bar has a
<title> with its exact figures (shown on hover) and every chart has a table beside it
for screen readers and for reading the values."""

from __future__ import annotations

import datetime
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from callbacks.models import LATENCY_BOUNDS_MS
from callbacks.selectors import HourStat

__all__ = ["LATENCY_BOUNDS_MS", "latency_chart", "volume_chart"]

WIDTH, HEIGHT = 720, 190
LEFT, RIGHT, TOP, BOTTOM = 66, 10, 10, 26


def nice_ceiling(value: float) -> int:
    """The smallest of 1, 2, 5 x 10^n at or above ``value`` (at least 1)."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return int(step * power)
    return int(10 * power)


@dataclass
class Segment:
    y: float
    height: float
    kind: str  # ok, bad, retry


@dataclass
class Bar:
    x: float
    width: float
    title: str
    segments: list[Segment] = field(default_factory=list)


@dataclass
class Tick:
    at: float
    label: str


@dataclass
class Chart:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: float
    bars: list[Bar]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    lines: list[tuple[str, str]] = field(default_factory=list)  # (kind, SVG points)
    dots: list[tuple[str, float, float, str]] = field(default_factory=list)


def _frame() -> tuple[float, float]:
    return WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM


def _x_ticks(hours: Sequence[HourStat], slot: float) -> list[Tick]:
    return [Tick(LEFT + i * slot + slot / 2, f"{h.hour:%H:00}")
            for i, h in enumerate(hours) if i % 6 == 0 or i == len(hours) - 1]


def _span(hour: datetime.datetime) -> str:
    return f"{hour:%Y-%m-%d %H:00}-{hour + datetime.timedelta(hours=1):%H:00} UTC"


def volume_chart(hours: Sequence[HourStat]) -> Chart:
    """Deliveries per hour, stacked by how they ended: succeeded, failed, still retrying."""
    plot_w, plot_h = _frame()
    top_value = nice_ceiling(max((h.total for h in hours), default=0))
    slot = plot_w / max(len(hours), 1)
    bars = []
    for i, h in enumerate(hours):
        bar = Bar(LEFT + i * slot + slot * 0.15, slot * 0.7,
                  f"{_span(h.hour)}: {h.delivered} succeeded, {h.gave_up} failed, "
                  f"{h.retrying} still retrying")
        base = TOP + plot_h
        for value, kind in ((h.delivered, "ok"), (h.gave_up, "bad"), (h.retrying, "retry")):
            if value:
                height = plot_h * value / top_value
                base -= height
                bar.segments.append(Segment(round(base, 1), round(height, 1), kind))
        bars.append(bar)
    y_ticks = [Tick(round(TOP + plot_h * (1 - v / top_value), 1), f"{v:g}")
               for v in (0, top_value / 2, top_value)]
    return Chart(WIDTH, HEIGHT, LEFT, RIGHT, TOP, TOP + plot_h, bars, y_ticks,
                 _x_ticks(hours, slot))


def latency_chart(hours: Sequence[HourStat]) -> Chart | None:
    """Attempt latency per hour, p50 and p95 (bucket bounds), as two lines; None when
    nothing was sent in the 24 hours."""
    if not any(h.p95_ms for h in hours):
        return None
    plot_w, plot_h = _frame()
    top_value = nice_ceiling(max(h.p95_ms or 0 for h in hours))
    slot = plot_w / max(len(hours), 1)
    chart = Chart(WIDTH, HEIGHT, LEFT, RIGHT, TOP, TOP + plot_h, [],
                  [Tick(round(TOP + plot_h * (1 - v / top_value), 1), f"{v:g} ms")
                   for v in (0, top_value / 2, top_value)],
                  _x_ticks(hours, slot))
    for kind, pick in (("p50", lambda h: h.p50_ms), ("p95", lambda h: h.p95_ms)):
        points = []
        for i, h in enumerate(hours):
            value = pick(h)
            if value is None:
                continue
            x, y = LEFT + i * slot + slot / 2, TOP + plot_h * (1 - value / top_value)
            points.append(f"{x:.1f},{y:.1f}")
            chart.dots.append((kind, round(x, 1), round(y, 1),
                               f"{_span(h.hour)}: {kind} at most {value} ms"))
        chart.lines.append((kind, " ".join(points)))
    return chart


@dataclass
class CounterChart(Chart):
    threshold_y: float | None = None
    threshold_label: str = ""


def counter_chart(hours: Sequence[datetime.datetime], values: Sequence[int],
                  threshold: int | None, threshold_label: str) -> CounterChart:
    """One counter's hourly sums as bars, with its rule's threshold drawn across."""
    plot_w, plot_h = _frame()
    peak = max([*values, threshold or 0], default=0)
    top_value = nice_ceiling(peak * 1.1 if threshold is not None and threshold >= peak else peak)
    slot = plot_w / max(len(hours), 1)
    bars = []
    for i, (hour, value) in enumerate(zip(hours, values, strict=True)):
        bar = Bar(LEFT + i * slot + slot * 0.15, slot * 0.7, f"{_span(hour)}: {value}")
        if value:
            height = plot_h * value / top_value
            bar.segments.append(Segment(round(TOP + plot_h - height, 1), round(height, 1), "bad"))
        bars.append(bar)
    y_ticks = [Tick(round(TOP + plot_h * (1 - v / top_value), 1), f"{v:g}")
               for v in (0, top_value / 2, top_value)]
    stats = [HourStat(hour) for hour in hours]
    chart = CounterChart(WIDTH, HEIGHT, LEFT, RIGHT, TOP, TOP + plot_h, bars, y_ticks,
                         _x_ticks(stats, slot))
    if threshold is not None:
        chart.threshold_y = round(TOP + plot_h * (1 - threshold / top_value), 1)
        chart.threshold_label = threshold_label
    return chart
