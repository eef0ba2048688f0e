"""Store a Box's counter reports: validate each, keep the good ones, name the bad ones.

A report: ``{"report_id": "r-17" (optional), "time": "<ISO 8601 with offset>",
"cameras": {"<camera_id or local camera id>": {"<counter>": <delta>, ...}},
"box": {"<counter>": <value>, ...}}``. Values are non-negative integers;
counters nobody has a rule for are stored too. Only non-zero values become
samples (a zero changes no sum and trips no rule). A report already stored is a
duplicate: by (Box, ``report_id``) when it has one, else by (Box, time, content), so a
Box that posts each camera's report at the same time loses none of them.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from domains.models import Device
from incidents.metrics import REPORTS_ACCEPTED, REPORTS_DUPLICATE, REPORTS_REJECTED
from incidents.models import CounterReport, CounterSample, report_digest

log = logging.getLogger(__name__)

MAX_COUNTER_NAME = 64
MAX_REPORT_ID = 100
# A delta no Box reports; sums over windows and minutes stay far inside 64 bits.
MAX_VALUE = 2**31 - 1
# Report times: from this on, and at most INCIDENT_REPORT_MAX_AHEAD seconds ahead of now
# (a Box's clock may run a little fast; a report from 2999 would hold its roll-up forever).
# Older reports are stored as history (no incident.created for them).
EARLIEST = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)


@dataclass
class BatchResult:
    accepted: list[int] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    report_ids: list[int] = field(default_factory=list)  # stored rows, for evaluation

    def as_answer(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected}


def parse_time(value: Any) -> datetime.datetime:
    """Parse an ISO 8601 time that carries an offset; raise ValueError saying what is wrong."""
    if not isinstance(value, str):
        raise ValueError("Give the report's time as an ISO 8601 string with an offset.")
    try:
        moment = parse_datetime(value.strip())
    except ValueError:
        moment = None
    if moment is None:
        raise ValueError(f"{value!r} is not an ISO 8601 time.")
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no offset: add Z or +hh:mm.")
    try:
        moment = moment.astimezone(datetime.UTC)
    except OverflowError:
        raise ValueError(f"{value!r} is out of range.") from None
    latest = timezone.now() + datetime.timedelta(seconds=settings.INCIDENT_REPORT_MAX_AHEAD)
    if moment > latest:
        raise ValueError(f"{value!r} is more than {settings.INCIDENT_REPORT_MAX_AHEAD} s ahead "
                         "of the portal's clock (INCIDENT_REPORT_MAX_AHEAD).")
    if moment < EARLIEST:
        raise ValueError(f"{value!r} is before {EARLIEST.year}: no Box reported then.")
    return moment


def _counters(values: Any, where: str, errors: dict[str, list[str]]) -> dict[str, int]:
    if not isinstance(values, dict):
        errors[where] = ["Give the counters as an object of name: non-negative integer."]
        return {}
    clean = {}
    for name, value in values.items():
        if not name or len(name) > MAX_COUNTER_NAME:
            errors[f"{where}.{name}"[:200]] = ["A counter name has 1 to 64 characters."]
        elif isinstance(value, bool) or not isinstance(value, int):
            errors[f"{where}.{name}"] = [f"{value!r} is not an integer."]
        elif value < 0:
            errors[f"{where}.{name}"] = [f"{value} is negative: counters are deltas >= 0."]
        elif value > MAX_VALUE:
            errors[f"{where}.{name}"] = [f"{value} is too large (at most {MAX_VALUE})."]
        else:
            clean[name] = value
    return clean


@dataclass
class Parsed:
    index: int
    report_id: str
    reported_at: datetime.datetime
    cameras: dict[str, dict[str, int]]  # by camera pk (as str)
    box: dict[str, int]
    digest: str = field(init=False)  # of cameras and box (report_digest)

    def __post_init__(self) -> None:
        self.digest = report_digest(self.cameras, self.box)

    @property
    def key(self) -> tuple:
        """What makes it the same report as another of its Box: its id, else time and content."""
        if self.report_id:
            return ("id", self.report_id)
        return ("content", self.reported_at, self.digest)


def _parse(index: int, raw: Any, cameras: dict[str, int]) -> Parsed | dict[str, list[str]]:
    """Return the parsed report, or its errors by field."""
    if not isinstance(raw, dict):
        return {"detail": ["A report is a JSON object."]}
    errors: dict[str, list[str]] = {}
    unknown = set(raw) - {"report_id", "time", "cameras", "box"}
    for name in sorted(unknown):
        errors[name] = ["Unknown field: a report has report_id, time, cameras and box."]
    report_id = raw.get("report_id") or ""
    if not isinstance(report_id, str) or len(report_id) > MAX_REPORT_ID:
        errors["report_id"] = ["The report id is a string of at most 100 characters."]
        report_id = ""
    try:
        reported_at = parse_time(raw.get("time"))
    except ValueError as exc:
        errors["time"] = [str(exc)]
        reported_at = None
    by_camera: dict[str, dict[str, int]] = {}
    raw_cameras = raw.get("cameras") or {}
    if not isinstance(raw_cameras, dict):
        errors["cameras"] = ["Give cameras as an object of camera_id: counters."]
        raw_cameras = {}
    for key, values in raw_cameras.items():
        pk = cameras.get(key)
        if pk is None:
            errors[f"cameras.{key}"[:200]] = [f"{key!r} is not a camera of this Box."]
            continue
        by_camera[str(pk)] = _counters(values, f"cameras.{key}", errors)
    box = _counters(raw.get("box") or {}, "box", errors)
    if errors or reported_at is None:  # no time without an error saying why
        return errors
    return Parsed(index, report_id, reported_at, by_camera, box)


def _known(device: Device, parsed: list[Parsed]) -> set[tuple]:
    """Return the keys (Parsed.key) of the Box's stored reports that ``parsed`` could repeat."""
    ids = [p.report_id for p in parsed if p.report_id]
    times = [p.reported_at for p in parsed if not p.report_id]
    rows = CounterReport.objects.filter(device=device)
    known: set[tuple] = set()
    if ids:
        stored_ids = rows.filter(report_id__in=ids).values_list("report_id", flat=True)
        known |= {("id", report_id) for report_id in stored_ids}
    if times:
        stored = rows.filter(report_id="", reported_at__in=times)
        known |= {("content", *row) for row in stored.values_list("reported_at", "content_digest")}
    return known


def _split_duplicates(device: Device, parsed: list[Parsed], result: BatchResult) -> list[Parsed]:
    known = _known(device, parsed)
    fresh = []
    for report in parsed:
        if report.key in known:
            result.duplicates.append(report.index)
            continue
        known.add(report.key)
        fresh.append(report)
    return fresh


def _samples(row: CounterReport, report: Parsed) -> list[CounterSample]:
    samples = [
        CounterSample(
            report=row, subject=f"cam:{pk}", counter=name, reported_at=row.reported_at, value=value
        )
        for pk, counters in report.cameras.items()
        for name, value in counters.items()
        if value
    ]
    samples += [
        CounterSample(
            report=row,
            subject=f"box:{row.device_id}",
            counter=name,
            reported_at=row.reported_at,
            value=value,
        )
        for name, value in report.box.items()
        if value
    ]
    return samples


def _store(device: Device, fresh: list[Parsed], historical: bool) -> list[int]:
    rows = [
        CounterReport(
            device=device,
            domain_id=device.domain_id,
            report_id=r.report_id,
            reported_at=r.reported_at,
            cameras=r.cameras,
            box=r.box,
            content_digest=r.digest,
            historical=historical,
        )
        for r in fresh
    ]
    with transaction.atomic():
        CounterReport.objects.bulk_create(rows)
        samples = [
            s for row, report in zip(rows, fresh, strict=True) for s in _samples(row, report)
        ]
        CounterSample.objects.bulk_create(samples, batch_size=2000)
    return [row.pk for row in rows]


def ingest_reports(*, device: Device, reports: list[Any], historical: bool = False) -> BatchResult:
    """Validate and store ``reports`` of ``device`` in one transaction; say what became of each."""
    cameras: dict[str, int] = {}
    for pk, camera_id, local_id in device.cameras.values_list("pk", "camera_id", "local_camera_id"):
        cameras[camera_id] = pk
        if local_id:
            cameras.setdefault(local_id, pk)
    result = BatchResult()
    parsed: list[Parsed] = []
    for index, raw in enumerate(reports):
        outcome = _parse(index, raw, cameras)
        if isinstance(outcome, Parsed):
            parsed.append(outcome)
        else:
            result.rejected.append({"index": index, "errors": outcome})
    for attempt in range(2):
        fresh = _split_duplicates(device, parsed, result)
        try:
            result.report_ids = _store(device, fresh, historical)
            break
        except IntegrityError:  # the same report arrived concurrently: sort again
            if attempt:
                raise
            result.duplicates.clear()
    result.accepted = sorted(r.index for r in fresh)
    result.duplicates.sort()
    _count(result)
    return result


def _count(result: BatchResult) -> None:
    for counter, items in ((REPORTS_ACCEPTED, result.accepted),
                           (REPORTS_DUPLICATE, result.duplicates),
                           (REPORTS_REJECTED, result.rejected)):
        if items:
            counter.inc(len(items))
