"""Judge stored reports against the rules; open at most one incident per camera (or Box)
per report, and publish incident.created for the recent ones.

A Box's reports are evaluated by one runner at a time: ``evaluate_box`` holds the
Box's lease (a conditional UPDATE, not a row lock, so a second runner gives the
work back at once instead of holding a worker slot) and works through the
Box's unevaluated reports in short transactions of INCIDENT_EVALUATION_CHUNK
reports. A burst of reports asks for one evaluation task per Box
(``request_evaluation`` marks the Box queued). Every subject of a Box's reports
(its cameras, and the Box itself for queue counters) is the Box's, so the lease
serializes each subject. Evaluation is idempotent: a report already judged for
a camera opens nothing again. Reports may arrive out
of order: each new sample also re-judges the windows ending at the stored
later samples it falls into, and cooldowns look both ways in report time, so
the outcome does not depend on arrival order.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from callbacks.delivery.outbox import enqueue, publish_many
from domains.formats import camio_date
from domains.models import Camera, Device
from incidents.metrics import OPENED
from incidents.models import (
    CounterReport,
    CounterRule,
    CounterSample,
    CounterTrip,
    EvaluationLock,
    Incident,
)

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (subject, counter)
EVALUATE_TASK = "incidents.evaluate_box"


def subject_for(obj: Camera | Device) -> str:
    return f"cam:{obj.pk}" if isinstance(obj, Camera) else f"box:{obj.pk}"


@dataclass
class Trip:
    report_id: int
    subject: str
    counter: str
    at: datetime.datetime
    value: int
    threshold: int


@dataclass
class Judgement:
    rules: dict[str, CounterRule]
    samples: dict[Key, list[tuple[datetime.datetime, int, int]]]  # (at, value, report id)
    trips: dict[Key, list[datetime.datetime]]
    new: list[Trip] = field(default_factory=list)


def _threshold(rule: CounterRule, report: CounterReport) -> int | None:
    if rule.threshold is not None:
        return rule.threshold
    return report.domain.min_upload_queue_length_for_incident_creation


def _window_points(
    rule: CounterRule, points: list[tuple[datetime.datetime, int, int]], fresh: set[int]
) -> list[tuple[datetime.datetime, int, int]]:
    """Return the samples whose window must be judged: the new ones and the stored later
    ones whose window takes a new one in."""
    width = datetime.timedelta(seconds=rule.window_seconds)
    new_times = [at for at, _, report_id in points if report_id in fresh]
    return [
        point
        for point in points
        if point[2] in fresh or any(t <= point[0] <= t + width for t in new_times)
    ]


def _judge_key(judgement: Judgement, key: Key, fresh: set[int], reports: dict) -> None:
    rule = judgement.rules[key[1]]
    if not key[0].startswith("cam:" if rule.scope == "camera" else "box:"):
        return  # a Box counter reported under a camera (or the reverse): no rule for it there
    points = judgement.samples[key]
    cooldown = datetime.timedelta(seconds=rule.cooldown_seconds)
    width = datetime.timedelta(seconds=rule.window_seconds)
    if rule.window_seconds:
        judged = _window_points(rule, points, fresh)
    else:
        judged = [p for p in points if p[2] in fresh]
    # A later report not evaluated yet is judged by its own evaluation, with everything.
    judged = [p for p in judged if p[2] in fresh or reports[p[2]].evaluated_at is not None]
    for at, value, report_id in sorted(judged):
        report = reports[report_id]
        threshold = _threshold(rule, report)
        if threshold is None:
            continue
        if rule.window_seconds:
            value = sum(v for t, v, _ in points if at - width <= t <= at)
        if not rule.trips(value, threshold):
            continue
        if any(abs(at - t) < cooldown for t in judgement.trips[key]):
            continue
        judgement.trips[key].append(at)
        judgement.new.append(Trip(report_id, key[0], key[1], at, value, threshold))


def _load(keys: set[Key], rules: dict[str, CounterRule], span: tuple) -> Judgement:
    start, end = span
    widest = max((r.window_seconds for r in rules.values()), default=0)
    longest = max((r.cooldown_seconds for r in rules.values()), default=0)
    subjects = {s for s, _ in keys}
    counters = {c for _, c in keys}
    samples: dict[Key, list] = defaultdict(list)
    rows = CounterSample.objects.filter(
        subject__in=subjects,
        counter__in=counters,
        reported_at__gte=start - datetime.timedelta(seconds=widest),
        reported_at__lte=end + datetime.timedelta(seconds=widest),
    ).values_list("subject", "counter", "reported_at", "value", "report_id")
    for subject, counter, at, value, report_id in rows:
        if (subject, counter) in keys:
            samples[(subject, counter)].append((at, value, report_id))
    trips: dict[Key, list] = defaultdict(list)
    margin = datetime.timedelta(seconds=longest + widest)
    for subject, counter, at in CounterTrip.objects.filter(
        subject__in=subjects, counter__in=counters, at__gte=start - margin, at__lte=end + margin
    ).values_list("subject", "counter", "at"):
        trips[(subject, counter)].append(at)
    return Judgement(rules, samples, trips)


def _payload(incident: Incident, owner_payload: dict, trips: list[Trip], rules: dict) -> dict:
    events = {
        t.counter: {
            "counter": t.counter,
            "description": rules[t.counter].describe(t.value, t.threshold),
            "value": t.value,
        }
        for t in sorted(trips, key=lambda t: t.counter)
    }
    body: dict[str, Any] = {
        "counter_events": events,
        "date": camio_date(incident.date),
        "type": "incident",
        "incident_id": incident.incident_id,
        "device_id": incident.device.device_id,
    }
    camera = incident.camera
    if camera is not None:
        body = {
            "camera_name": camera.name,
            "camera_ip": camera.ip_address,
            "camera_id": camera.camera_id,
            **body,
        }
    else:
        body = {"box_mac_address": incident.device.mac_address, **body}
    return {"incident": body, "user": owner_payload}


def _open_incidents(judgement: Judgement, reports: dict[int, CounterReport]) -> list[Incident]:
    grouped: dict[tuple[int, str], list[Trip]] = defaultdict(list)
    for trip in judgement.new:
        grouped[(trip.report_id, trip.subject)].append(trip)
    taken = set(
        Incident.objects.filter(
            report_id__in={r for r, _ in grouped}, subject__in={s for _, s in grouped}
        ).values_list("report_id", "subject")
    )
    cameras = Camera.objects.select_related("owner", "device").in_bulk(
        {int(s[4:]) for _, s in grouped if s.startswith("cam:")}
    )
    old = timezone.now() - datetime.timedelta(seconds=settings.INCIDENT_MAX_AGE)
    opened, rows = [], []
    for (report_id, subject), trips in sorted(grouped.items()):
        if (report_id, subject) in taken:
            continue  # judged before (a task that ran twice): nothing new
        report = reports[report_id]
        camera = cameras.get(int(subject[4:])) if subject.startswith("cam:") else None
        if subject.startswith("cam:") and camera is None:
            continue  # the camera was deleted since the report: nobody to tell
        incident = Incident(
            domain_id=report.domain_id,
            device=report.device,
            camera=camera,
            report=report,
            subject=subject,
            date=report.reported_at,
            historical=report.historical or report.reported_at < old,
            counters=",".join(sorted(t.counter for t in trips)),
        )
        owner = camera.owner if camera is not None else report.device.owner
        incident.counter_events = _payload(incident, owner.as_payload(), trips, judgement.rules)[
            "incident"
        ]["counter_events"]
        incident.payload = _payload(incident, owner.as_payload(), trips, judgement.rules)
        opened.append(incident)
        rows += [
            CounterTrip(incident=incident, subject=subject, counter=t.counter, at=t.at)
            for t in trips
        ]
    Incident.objects.bulk_create(opened)
    CounterTrip.objects.bulk_create(rows)
    return opened


def _publish(opened: list[Incident]) -> None:
    by_domain: dict[int, list[Incident]] = defaultdict(list)
    for incident in opened:
        if not incident.historical:
            by_domain[incident.domain_id].append(incident)
    for incidents in by_domain.values():
        report = incidents[0].report
        assert report is not None  # each was opened from a report just now
        domain = report.domain
        events = publish_many(
            domain=domain,
            events=[("incident.created", i.payload, f"box:{i.payload['incident']['device_id']}")
                    for i in incidents],
        )
        for incident, event in zip(incidents, events, strict=True):
            incident.event_id = event.id
        Incident.objects.bulk_update(incidents, ["event_id"])


ROLLUP_SQL = """
INSERT INTO incidents_counterminute (subject, counter, minute, total) VALUES (%s, %s, %s, %s)
ON CONFLICT (subject, counter, minute) DO UPDATE SET total = incidents_counterminute.total
 + excluded.total
"""


def _roll_up(report_ids: list[int]) -> None:
    """Add the new samples to the per-minute sums (kept after raw reports expire)."""
    sums: dict[tuple, int] = defaultdict(int)
    for subject, counter, at, value in CounterSample.objects.filter(
        report_id__in=report_ids
    ).values_list("subject", "counter", "reported_at", "value"):
        sums[(subject, counter, at.replace(second=0, microsecond=0))] += value
    with connection.cursor() as cursor:
        cursor.executemany(ROLLUP_SQL, [(*key, total) for key, total in sorted(sums.items())])


def _claim(report_ids: list[int]) -> list[int]:
    """Lock the not yet evaluated reports among ``report_ids`` and mark them evaluated.

    A concurrent evaluation of the same report waits on its row, then finds it
    evaluated (PostgreSQL re-checks the condition after the wait): it runs once.
    """
    claimed = list(
        CounterReport.objects.select_for_update()
        .filter(pk__in=report_ids, evaluated_at__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    CounterReport.objects.filter(pk__in=claimed).update(evaluated_at=timezone.now())
    return claimed


def _reports(ids: Iterable[int]) -> dict[int, CounterReport]:
    related = ("domain", "device", "device__owner")
    return CounterReport.objects.select_related(*related).in_bulk(list(ids))


def _evaluate_chunk(report_ids: list[int]) -> list[Incident]:
    """Judge these stored reports (once each) in one short transaction; open incidents.

    The caller holds the lease of the reports' Box."""
    with transaction.atomic():
        fresh = set(_claim(report_ids))
        if not fresh:
            return []
        _roll_up(sorted(fresh))
        rules = {r.counter: r for r in CounterRule.objects.filter(enabled=True)}
        new_samples = list(
            CounterSample.objects.filter(report_id__in=fresh, counter__in=rules).values_list(
                "subject", "counter", "reported_at"
            )
        )
        if not new_samples:
            return []
        keys = {(s, c) for s, c, _ in new_samples}
        times = [at for _, _, at in new_samples]
        judgement = _load(keys, rules, (min(times), max(times)))
        # Stored later reports re-judged here need their rows too.
        reports = _reports({r for points in judgement.samples.values() for _, _, r in points})
        for key in sorted(keys):
            _judge_key(judgement, key, fresh, reports)
        opened = _open_incidents(judgement, reports)
        _publish(opened)
        return opened


# --- One runner per Box -------------------------------------------------------


def box_subject(device_pk: int) -> str:
    return f"box:{device_pk}"


def request_evaluation(device_pks: Iterable[int], countdown: float | None = None) -> int:
    """Ask for an evaluation of each Box unless one is queued already; return how many
    tasks were sent. A mark older than INCIDENT_SWEEP_AFTER (a lost message) asks again."""
    subjects = {box_subject(pk): pk for pk in set(device_pks)}
    if not subjects:
        return 0
    _lock_rows(subjects)
    now = timezone.now()
    stale = now - datetime.timedelta(seconds=settings.INCIDENT_SWEEP_AFTER)
    asked = []
    for subject, pk in sorted(subjects.items()):
        marked = EvaluationLock.objects.filter(
            Q(queued_at__isnull=True) | Q(queued_at__lt=stale), subject=subject
        ).update(queued_at=now)
        if marked:
            asked.append(pk)
    return enqueue(EVALUATE_TASK, asked, countdown=countdown)


def _lock_rows(subjects: Iterable[str]) -> None:
    """Make sure each subject has its lock row (an insert that ignores existing rows)."""
    EvaluationLock.objects.bulk_create(
        [EvaluationLock(subject=s) for s in sorted(subjects)], ignore_conflicts=True
    )


def _take_lease(subject: str, token: uuid.UUID) -> bool:
    now = timezone.now()
    _lock_rows([subject])
    until = now + datetime.timedelta(seconds=settings.INCIDENT_LEASE_SECONDS)
    return bool(
        EvaluationLock.objects.filter(
            Q(held_until__isnull=True) | Q(held_until__lt=now), subject=subject
        ).update(held_by=token, held_until=until)
    )


def _renew_lease(subject: str, token: uuid.UUID) -> bool:
    until = timezone.now() + datetime.timedelta(seconds=settings.INCIDENT_LEASE_SECONDS)
    return bool(
        EvaluationLock.objects.filter(subject=subject, held_by=token).update(held_until=until)
    )


def _release_lease(subject: str, token: uuid.UUID) -> None:
    EvaluationLock.objects.filter(subject=subject, held_by=token).update(
        held_by=None, held_until=None
    )


def _unevaluated(device_pk: int, limit: int) -> list[int]:
    return list(
        CounterReport.objects.filter(device_id=device_pk, evaluated_at__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )


@dataclass
class BoxRun:
    evaluated: int = 0
    opened: list[Incident] = field(default_factory=list)
    given_back: bool = False  # another runner holds the Box
    reports_left: bool = False  # the budget ran out with reports left: asked for another task


def evaluate_box(device_pk: int, *, only: set[int] | None = None) -> BoxRun:
    """Evaluate a Box's unevaluated reports (only those in ``only``, when given) under its
    lease, in chunks, at most INCIDENT_EVALUATION_CHUNKS_PER_TASK of them per call."""
    subject, token, run = box_subject(device_pk), uuid.uuid4(), BoxRun()
    if only is None:  # a task: reports arriving from now on ask for a task of their own
        EvaluationLock.objects.filter(subject=subject).update(queued_at=None)
    if not _take_lease(subject, token):
        run.given_back = True
        request_evaluation([device_pk], countdown=1.0)  # the holder may be finishing
        return run
    chunk = settings.INCIDENT_EVALUATION_CHUNK
    try:
        for _ in range(settings.INCIDENT_EVALUATION_CHUNKS_PER_TASK):
            ids = _unevaluated(device_pk, chunk) if only is None else sorted(only)[:chunk]
            if not ids:
                return run
            opened = _evaluate_chunk(ids)
            run.opened += opened
            for historical, count in Counter(i.historical for i in opened).items():
                OPENED[historical].inc(count)
            run.evaluated += len(ids)
            if only is not None:
                only -= set(ids)
            _renew_lease(subject, token)
        run.reports_left = True
    finally:
        _release_lease(subject, token)
    request_evaluation([device_pk])
    return run


def evaluate_reports(report_ids: list[int]) -> list[Incident]:
    """Judge these stored reports now, Box by Box (loaders and tests); a Box another
    runner holds is left to it (and asked for again)."""
    by_box: dict[int, set[int]] = defaultdict(set)
    rows = CounterReport.objects.filter(pk__in=report_ids).values_list("device_id", "pk")
    for device_pk, pk in rows:
        by_box[device_pk].add(pk)
    opened: list[Incident] = []
    for device_pk, ids in sorted(by_box.items()):
        while ids:
            run = evaluate_box(device_pk, only=ids)
            opened += run.opened
            if run.given_back:
                break
    return opened


def evaluate_unevaluated(limit: int = 2_000) -> int:
    """The sweeper: evaluate reports whose task never ran (broker down, worker lost).

    Returns how many reports it evaluated."""
    cutoff = timezone.now() - datetime.timedelta(seconds=settings.INCIDENT_SWEEP_AFTER)
    boxes = (
        CounterReport.objects.filter(Q(evaluated_at__isnull=True), received_at__lt=cutoff)
        .order_by()
        .values_list("device_id", flat=True)
        .distinct()
    )
    evaluated = 0
    for device_pk in list(boxes[:limit]):
        try:
            evaluated += evaluate_box(device_pk).evaluated
        except Exception:  # one Box's trouble must not stop the others; retried next sweep
            log.exception("evaluating the counter reports of Box %s failed", device_pk)
    return evaluated
