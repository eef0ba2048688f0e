"""An endpoint's health as the portal shows it (the domain page's cell, a chart's table
and SVG), read back from the HTML; and hand-made rows for the health selector's tests."""

from __future__ import annotations

import datetime
import html
import re
from collections import Counter

from django.utils import timezone

from callbacks.delivery.claims import claim
from callbacks.delivery.policy import Result, build_request
from callbacks.delivery.recording import CIRCUIT_OPENED, record
from callbacks.models import Delivery, Endpoint, EndpointHourlyStat, Event
from callbacks.publishing import publish
from domains.models import AuditEntry

COLUMNS = ("succeeded", "failed", "gave-up", "cancelled", "circuit-openings", "retrying")


def _text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def health_cell(page: str, endpoint: Endpoint) -> tuple[str, str]:
    """The endpoint's "Success (24 h)" cell on the domain page: its text, and the whole
    summary it names on hover."""
    row = re.search(rf'<tr id="endpoint-{endpoint.endpoint_id}">.*?</tr>', page, re.S)
    assert row, f"no row for {endpoint.endpoint_id}"
    cell = re.search(r'<td class="health[^"]*"[^>]*>(.*?)</td>', row.group(0), re.S)
    assert cell, "no health cell"
    hover = re.search(r'title="([^"]*)"', cell.group(1))
    return _text(cell.group(1)), html.unescape(hover.group(1)) if hover else ""


def figure(page: str, chart_id: str) -> str:
    found = re.search(rf'<figure class="chart" aria-labelledby="chart-{chart_id}">(.*?)</figure>',
                      page, re.S)
    assert found, f"no chart {chart_id}"
    return found.group(1)


def _cells(row: str) -> dict[str, int]:
    return {name: int(value) for name, value in
            re.findall(r'<td class="([\w-]+)">(\d+)</td>', row) if name in COLUMNS}


def hour_sums(page: str, chart_id: str) -> dict[str, int]:
    """The sum of each column of the chart's table over its 24 hour rows."""
    hours = re.findall(r'<tr data-hour="\d{4}-\d\d-\d\d \d\d:00">(.*?)</tr>',
                       figure(page, chart_id), re.S)
    assert len(hours) == 24
    summed: Counter[str] = Counter()
    for row in hours:
        summed.update(_cells(row))
    return dict(summed)


def chart_total(page: str, chart_id: str) -> dict[str, int]:
    """The chart table's "Last 24 hours" row."""
    total = re.search(r'<tr data-hour="total">(.*?)</tr>', figure(page, chart_id), re.S)
    assert total, "no total row"
    return _cells(total.group(1))


def chart_svg(page: str, chart_id: str) -> dict[str, int]:
    """What the chart's bars and rules say on hover, summed over the 24 hours."""
    svg = figure(page, chart_id).split("</svg>")[0]
    titles = [html.unescape(t) for t in re.findall(r"<title>([^<]*)</title>", svg)]
    said: Counter[str] = Counter()
    for title in titles:
        for count, what in re.findall(r"(\d+) (succeeded|failed for good|failed|cancelled)",
                                      title):
            kind = "attempts" if "attempts:" in title else "deliveries"
            said[f"{kind} {what}"] += int(count)
        said["circuit openings"] += ("circuit opened once" in title) + sum(
            int(n) for n in re.findall(r"circuit opened (\d+) times", title))
    return dict(said)


def segments(page: str, chart_id: str, kind: str) -> int:
    """How many bar segments of ``kind`` (ok, bad, gave-up, cancelled) the chart draws."""
    svg = figure(page, chart_id).split("</svg>")[0]
    return len(re.findall(rf'<rect class="{kind}"', svg))


def ended_delivery(endpoint: Endpoint, state: str, finished_at: datetime.datetime,
                   test: bool = False) -> Delivery:
    """A delivery of ``endpoint`` that ended in ``state`` at ``finished_at``."""
    event = Event.objects.create(domain=endpoint.domain, type="camera.created", body=b"{}",
                                 test=test)
    return Delivery.objects.create(event=event, endpoint=endpoint, domain=endpoint.domain,
                                   event_type=event.type, state=state, test=test,
                                   created_at=finished_at - datetime.timedelta(minutes=5),
                                   finished_at=finished_at)


def rolled_up(endpoint: Endpoint, hour: datetime.datetime, succeeded: int, failed: int) -> None:
    """The recorder's hourly rollup of ``endpoint``'s attempts in ``hour``."""
    EndpointHourlyStat.objects.create(endpoint=endpoint, hour=hour, succeeded=succeeded,
                                      failed=failed)


def circuit_opened(endpoint: Endpoint, at: datetime.datetime, action: str = CIRCUIT_OPENED
                   ) -> None:
    """An audit entry like the one the recorder writes when ``endpoint``'s circuit opens."""
    entry = AuditEntry.objects.record(actor=None, action=action, obj=endpoint,
                                      object_id=endpoint.endpoint_id)
    AuditEntry.objects.filter(pk=entry.pk).update(created_at=at)


def record_answers(endpoint: Endpoint, answers: list[tuple[int | None, str]]) -> None:
    """Send ``endpoint`` one new delivery per answer as a worker would, and record each
    answer (status, or None and an error) in its own batch, in order."""
    for status, error in answers:
        event = publish(domain=endpoint.domain, type="camera.created",
                        object={"camera": {}}, endpoint=endpoint)
        [job] = claim([str(event.deliveries.get().pk)], 1)
        now = timezone.now()
        record([Result(job=job, request=build_request(job, int(now.timestamp())),
                       started_at=now, finished_at=now, status=status, error=error)])
