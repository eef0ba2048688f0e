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

import bisect
import datetime
import itertools
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

from callbacks.delivery.outbox import enqueue
from callbacks.publishing import publish_many
from domains.formats import camio_date
from domains.models import Camera, Device, Domain
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
    # Per key, its samples sorted by time: (at, value, report id), and running sums.
    samples: dict[Key, list[tuple[datetime.datetime, int, int]]]
    trips: dict[Key, list[datetime.datetime]]  # sorted
    new: list[Trip] = field(default_factory=list)


@dataclass
class _Reports:
    """What judging needs of the reports it looks at: whether each was evaluated, and
    the upload-queue minimum of its domain (for rules without a threshold)."""

    evaluated: dict[int, bool]
    minimum: dict[int, int | None]


def _judged_points(rule: CounterRule, points: list, fresh: set[int]) -> list:
    """The samples whose value (or window) must be judged: the new ones and, for a window
    rule, the stored later ones whose window takes a new one in (a sorted walk)."""
    if not rule.window_seconds:
        return [point for point in points if point[2] in fresh]
    width = datetime.timedelta(seconds=rule.window_seconds)
    new_times = [at for at, _, report_id in points if report_id in fresh]  # sorted
    judged = []
    for point in points:
        if point[2] in fresh:
            judged.append(point)
            continue
        first = bisect.bisect_left(new_times, point[0] - width)  # a new t with t >= at - w
        if first < len(new_times) and new_times[first] <= point[0]:
            judged.append(point)
    return judged


def _judge_key(judgement: Judgement, key: Key, fresh: set[int], reports: _Reports) -> None:
    rule = judgement.rules[key[1]]
    if not key[0].startswith("cam:" if rule.scope == "camera" else "box:"):
        return  # a Box counter reported under a camera (or the reverse): no rule for it there
    points = judgement.samples[key]
    cooldown = datetime.timedelta(seconds=rule.cooldown_seconds)
    width = datetime.timedelta(seconds=rule.window_seconds)
    times = [at for at, _, _ in points]
    running = list(itertools.accumulate((value for _, value, _ in points), initial=0))
    # A later report not evaluated yet is judged by its own evaluation, with everything.
    judged = [p for p in _judged_points(rule, points, fresh)
              if p[2] in fresh or reports.evaluated.get(p[2], False)]
    trips = judgement.trips[key]
    for at, value, report_id in sorted(judged):
        threshold = (rule.threshold if rule.threshold is not None
                     else reports.minimum.get(report_id))
        if threshold is None:
            continue
        if rule.window_seconds:  # the sum over [at - window, at]
            value = (running[bisect.bisect_right(times, at)]
                     - running[bisect.bisect_left(times, at - width)])
        if not rule.trips(value, threshold):
            continue
        nearest = bisect.bisect_left(trips, at)
        if any(abs(at - trips[i]) < cooldown for i in (nearest - 1, nearest)
               if 0 <= i < len(trips)):
            continue
        trips.insert(nearest, at)
        judgement.new.append(Trip(report_id, key[0], key[1], at, value, threshold))


def _load(spans: dict[Key, tuple[datetime.datetime, datetime.datetime]],
          rules: dict[str, CounterRule]) -> Judgement:
    """Each key's samples within its own rule's window of the new ones (a rule without a
    window needs only the new samples' instants), and its trips within that rule's
    cooldown: one query per counter for each, however long the Box's history."""
    samples: dict[Key, list] = defaultdict(list)
    trips: dict[Key, list] = defaultdict(list)
    by_counter: dict[str, list[Key]] = defaultdict(list)
    for key in spans:
        by_counter[key[1]].append(key)
    for counter, keys in sorted(by_counter.items()):
        rule = rules[counter]
        start = min(spans[k][0] for k in keys)
        end = max(spans[k][1] for k in keys)
        subjects = {s for s, _ in keys}
        width = datetime.timedelta(seconds=rule.window_seconds)
        for subject, at, value, report_id in CounterSample.objects.filter(
            subject__in=subjects, counter=counter,
            reported_at__gte=start - width, reported_at__lte=end + width,
        ).values_list("subject", "reported_at", "value", "report_id"):
            samples[(subject, counter)].append((at, value, report_id))
        margin = width + datetime.timedelta(seconds=rule.cooldown_seconds)
        for subject, at in CounterTrip.objects.filter(
            subject__in=subjects, counter=counter, at__gte=start - margin, at__lte=end + margin
        ).values_list("subject", "at"):
            trips[(subject, counter)].append(at)
    for points in samples.values():
        points.sort()
    for moments in trips.values():
        moments.sort()
    return Judgement(rules, samples, trips)


def _report_states(judgement: Judgement, fresh: set[int]) -> _Reports:
    """Read, for the samples that will be judged only, whether their report was evaluated
    and its domain's upload-queue minimum (one query each)."""
    wanted: set[int] = set()
    for key, points in judgement.samples.items():
        wanted.update(r for _, _, r in _judged_points(judgement.rules[key[1]], points, fresh))
    rows = CounterReport.objects.filter(pk__in=wanted).values_list(
        "pk", "evaluated_at", "domain_id")
    states = {pk: (evaluated_at is not None, domain_id) for pk, evaluated_at, domain_id in rows}
    minimums = dict(Domain.objects.filter(pk__in={d for _, d in states.values()}).values_list(
        "pk", "min_upload_queue_length_for_incident_creation"))
    return _Reports(
        evaluated={pk: done for pk, (done, _) in states.items()},
        minimum={pk: minimums.get(domain_id) for pk, (_, domain_id) in states.items()},
    )


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

    The caller holds the lease of the reports' Box. The work is proportional to the
    chunk and to the samples within its rules' own windows, not to the Box's backlog."""
    with transaction.atomic():
        fresh = set(_claim(report_ids))
        if not fresh:
            return []
        _roll_up(sorted(fresh))
        rules = {r.counter: r for r in CounterRule.objects.filter(enabled=True)}
        spans: dict[Key, tuple[datetime.datetime, datetime.datetime]] = {}
        for subject, counter, at in CounterSample.objects.filter(
            report_id__in=fresh, counter__in=rules
        ).values_list("subject", "counter", "reported_at"):
            first, last = spans.get((subject, counter), (at, at))
            spans[(subject, counter)] = (min(first, at), max(last, at))
        if not spans:
            return []
        judgement = _load(spans, rules)
        states = _report_states(judgement, fresh)
        for key in sorted(spans):
            _judge_key(judgement, key, fresh, states)
        # Only the reports that open an incident are read whole.
        opened = _open_incidents(judgement, _reports({t.report_id for t in judgement.new}))
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
    lease, in chunks, at most INCIDENT_EVALUATION_CHUNKS_PER_TASK of them per call.

    At most one task per Box is queued: only the lease holder clears the Box's queued
    mark (so reports arriving meanwhile ask for one task, not one each), a task that finds
    the lease held gives the work back without asking again, and the holder, once it lets
    go, asks for one more task if reports are left (or clears the mark if none are)."""
    subject, token, run = box_subject(device_pk), uuid.uuid4(), BoxRun()
    if not _take_lease(subject, token):
        run.given_back = True  # the holder looks again when it lets go
        return run
    if only is None:  # a task: reports arriving from now on ask for the next one
        EvaluationLock.objects.filter(subject=subject).update(queued_at=None)
    chunk = settings.INCIDENT_EVALUATION_CHUNK
    try:
        for _ in range(settings.INCIDENT_EVALUATION_CHUNKS_PER_TASK):
            ids = _unevaluated(device_pk, chunk) if only is None else sorted(only)[:chunk]
            if not ids:
                break
            opened = _evaluate_chunk(ids)
            run.opened += opened
            for historical, count in Counter(i.historical for i in opened).items():
                OPENED[historical].inc(count)
            run.evaluated += len(ids)
            if only is not None:
                only -= set(ids)
            _renew_lease(subject, token)
        else:
            run.reports_left = True
    finally:
        _release_lease(subject, token)
    left = bool(_unevaluated(device_pk, 1))
    if only is not None:
        if left:  # others' reports (a task gave them back meanwhile), or the budget ran out
            request_evaluation([device_pk])
    elif left:
        _ask_again(subject, device_pk)
    else:
        EvaluationLock.objects.filter(subject=subject).update(queued_at=None)
    return run


def _ask_again(subject: str, device_pk: int) -> None:
    """The holder, letting go with reports left (the budget ran out, or they arrived while
    it held the lease and their task gave the work back): one more task."""
    EvaluationLock.objects.filter(subject=subject).update(queued_at=timezone.now())
    enqueue(EVALUATE_TASK, [device_pk])


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
