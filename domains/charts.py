"""Server-rendered SVG charts for the portal's pages: the geometry is computed here and
drawn by templates/charts/ (``_axes.html``, ``_bars.html``). No script and no chart
library: each bar and point has a <title> with its exact figures (shown on hover) and
every chart has a table beside it for screen readers and for reading the values."""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from callbacks.endpoint_health import HealthHour
from callbacks.selectors import HourStat

# The frame in SVG units. The page draws it 1:1 or larger (at most 860 px wide) and, on a
# narrow screen, at least 620 px wide in a box that opens on the newest hour, so 13-unit
# axis labels stay legible at every width.
WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 62, 12, 12, 26
HEADROOM = 1.15  # the top of the value axis is at least this much above the largest value
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM


STEPS = (1, 1.2, 2, 3, 4, 5, 6, 8, 10)


def nice_ceiling(value: float) -> int:
    """The smallest round number (1, 1.2, 2, 3, 4, 5, 6 or 8 x 10^n, a whole
    number) at or above ``value``; at least 1."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in STEPS:
        top = step * power
        if top >= value and top == int(top):
            return int(top)
    return int(10 * power)


def axis_top(peak: float) -> int:
    """The value axis's top for a largest value ``peak``: room above it (the largest bar
    or point never touches the frame)."""
    return nice_ceiling(peak * HEADROOM) if peak else 1


@dataclass
class Segment:
    y: float
    height: float
    kind: str  # ok, bad, gave-up, cancelled, retry


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
    """One 24-hour chart: the frame and axes every chart has, then bars or lines."""

    y_ticks: list[Tick]
    x_ticks: list[Tick]
    bars: list[Bar] = field(default_factory=list)
    lines: list[tuple[str, str]] = field(default_factory=list)  # (kind, SVG points)
    dots: list[tuple[str, float, float, str]] = field(default_factory=list)
    threshold_y: float | None = None
    threshold_label: str = ""
    # (kind, x, title): a dashed rule across the plot at ``x``.
    marks: list[tuple[str, float, str]] = field(default_factory=list)
    # The frame, for the templates.
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    plot_right: int = WIDTH - RIGHT
    plot_bottom: int = TOP + PLOT_H
    plot_height: int = PLOT_H


def _axes(hours: Sequence[datetime.datetime], top_value: int, unit: str = "") -> Chart:
    """A chart's frame for ``hours`` with a value axis from 0 to ``top_value``."""
    slot = PLOT_W / max(len(hours), 1)
    return Chart(
        y_ticks=[Tick(_y(v, top_value), f"{v:g}{unit}") for v in (0, top_value / 2, top_value)],
        x_ticks=[Tick(LEFT + i * slot + slot / 2, f"{hour:%H:00}")
                 for i, hour in enumerate(hours) if i % 6 == 0 or i == len(hours) - 1],
    )


def _y(value: float, top_value: int) -> float:
    return round(TOP + PLOT_H * (1 - value / top_value), 1)


def _slot(count: int) -> float:
    return PLOT_W / max(count, 1)


def _span(hour: datetime.datetime) -> str:
    return f"{hour:%Y-%m-%d %H:00}-{hour + datetime.timedelta(hours=1):%H:00} UTC"


def _bar(i: int, count: int, title: str, parts: Sequence[tuple[int, str]],
         top_value: int, place: tuple[float, float] = (0.15, 0.7)) -> Bar:
    """The ``i``th of ``count`` bars, its ``parts`` (value, kind) stacked from the axis;
    ``place`` is its offset and width as shares of the hour's slot."""
    slot = _slot(count)
    offset, width = place
    bar = Bar(round(LEFT + i * slot + slot * offset, 1), round(slot * width, 1), title)
    base = float(TOP + PLOT_H)
    for value, kind in parts:
        if value:
            height = PLOT_H * value / top_value
            base -= height
            bar.segments.append(Segment(round(base, 1), round(height, 1), kind))
    return bar


def volume_chart(hours: Sequence[HourStat]) -> Chart:
    """Deliveries per hour, stacked by how they ended: succeeded, failed, cancelled, still
    retrying."""
    top_value = axis_top(max((h.total for h in hours), default=0))
    chart = _axes([h.hour for h in hours], top_value)
    chart.bars = [
        _bar(i, len(hours), f"{_span(h.hour)}: {h.delivered} succeeded, {h.gave_up} failed, "
             f"{h.cancelled} cancelled, {h.retrying} still retrying",
             ((h.delivered, "ok"), (h.gave_up, "bad"), (h.cancelled, "cancelled"),
              (h.retrying, "retry")), top_value)
        for i, h in enumerate(hours)
    ]
    return chart


ATTEMPTS_BAR, ENDINGS_BAR = (0.08, 0.5), (0.62, 0.28)  # shares of an hour's slot


def health_chart(hours: Sequence[HealthHour]) -> Chart:
    """An endpoint's health per hour: attempts stacked by outcome (the wide bar), the
    deliveries that failed for good or were cancelled (the narrow bar beside it), and a
    dashed rule at the start of each hour the circuit opened in."""
    peak = max((max(h.attempts, h.gave_up + h.cancelled) for h in hours), default=0)
    top_value = axis_top(peak)
    chart = _axes([h.hour for h in hours], top_value)
    slot = _slot(len(hours))
    for i, h in enumerate(hours):
        chart.bars.append(_bar(
            i, len(hours), f"{_span(h.hour)}: attempts: {h.succeeded} succeeded, "
            f"{h.failed} failed", ((h.succeeded, "ok"), (h.failed, "bad")), top_value,
            ATTEMPTS_BAR))
        chart.bars.append(_bar(
            i, len(hours), f"{_span(h.hour)}: deliveries: {h.gave_up} failed for good, "
            f"{h.cancelled} cancelled", ((h.gave_up, "gave-up"), (h.cancelled, "cancelled")),
            top_value, ENDINGS_BAR))
        if h.circuit_openings:
            times = "once" if h.circuit_openings == 1 else f"{h.circuit_openings} times"
            chart.marks.append(("opened", round(LEFT + i * slot + 1, 1),
                                f"{_span(h.hour)}: circuit opened {times}"))
    return chart


def latency_chart(hours: Sequence[HealthHour]) -> Chart | None:
    """Attempt latency per hour, p50 and p95 (bucket bounds), as two lines; None when
    nothing was sent in the 24 hours."""
    if not any(h.p95_ms for h in hours):
        return None
    top_value = axis_top(max(h.p95_ms or 0 for h in hours))
    chart = _axes([h.hour for h in hours], top_value, " ms")
    slot = _slot(len(hours))
    quantiles: tuple[tuple[str, Callable[[HealthHour], int | None]], ...] = (
        ("p50", lambda h: h.p50_ms), ("p95", lambda h: h.p95_ms))
    for kind, pick in quantiles:
        points = []
        for i, h in enumerate(hours):
            value = pick(h)
            if value is None:
                continue
            x, y = round(LEFT + i * slot + slot / 2, 1), _y(value, top_value)
            points.append(f"{x},{y}")
            chart.dots.append((kind, x, y, f"{_span(h.hour)}: {kind} at most {value} ms"))
        chart.lines.append((kind, " ".join(points)))
    return chart


def counter_chart(hours: Sequence[datetime.datetime], values: Sequence[int],
                  threshold: int | None, threshold_label: str, what: str = "sum") -> Chart:
    """One counter per hour as bars (``what`` says what a bar is: the hour's sum, or the
    largest sum within the rule's window), with its rule's threshold drawn across."""
    peak: float = max(values, default=0)
    if threshold is not None:
        peak = max(peak, threshold)
    top_value = axis_top(peak)
    chart = _axes(hours, top_value)
    chart.bars = [_bar(i, len(hours), f"{_span(hour)}: {what} {value}", ((value, "bad"),),
                       top_value)
                  for i, (hour, value) in enumerate(zip(hours, values, strict=True))]
    if threshold is not None:
        chart.threshold_y, chart.threshold_label = _y(threshold, top_value), threshold_label
    return chart
