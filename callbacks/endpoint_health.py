"""Endpoint health, the one definition: the domain page, the endpoint's chart, the API
and the admin read it (and P18's summaries build on it).

Over the 24 whole hours up to now, per hour and in total: the attempts that succeeded
and those that failed (5xx, timeouts, refused connections, 4xx: every attempt whose
outcome is known, in the hour it finished), the deliveries that failed for good and
those that were cancelled (in the hour they ended), and how often the circuit opened.
Test deliveries are left out, and so are attempts of unknown outcome (the sweeper's).

Four grouped queries for any number of endpoints, each on an index: the hourly rollup
(attempts), its latency histogram, the deliveries that ended without success
(``delivery_endpoint_state``) and the circuit openings the recorder writes to the audit
log (``audit_domain_time``)."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Count
from django.db.models.functions import TruncHour
from django.utils import timezone

from callbacks.delivery.recording import CIRCUIT_OPENED
from callbacks.models import (
    LATENCY_BOUNDS_MS,
    Delivery,
    DeliveryState,
    Endpoint,
    EndpointHourlyStat,
    EndpointLatencyStat,
)
from domains.formats import counted
from domains.models import AuditEntry

HOUR = datetime.timedelta(hours=1)


def day_until(moment: datetime.datetime | None = None) -> list[datetime.datetime]:
    """The 24 whole hours up to the one holding ``moment`` (default: now), oldest first."""
    end = (moment or timezone.now()).replace(minute=0, second=0, microsecond=0)
    return [end - datetime.timedelta(hours=h) for h in range(23, -1, -1)]


@dataclass
class HealthHour:
    """One hour of an endpoint's health (or, as ``Health.total``, the whole period)."""

    hour: datetime.datetime
    succeeded: int = 0  # attempts
    failed: int = 0  # attempts
    gave_up: int = 0  # deliveries that failed for good (no retry left, 410 Gone)
    cancelled: int = 0  # deliveries
    circuit_openings: int = 0
    p50_ms: int | None = None  # upper bound of the bucket holding the median attempt
    p95_ms: int | None = None

    @property
    def attempts(self) -> int:
        return self.succeeded + self.failed


COUNTS = ("succeeded", "failed", "gave_up", "cancelled", "circuit_openings")


@dataclass
class Health:
    """An endpoint's last 24 hours (``hours``, oldest first) and their sum (``total``)."""

    endpoint_id: str  # the endpoint's public id
    since: datetime.datetime
    until: datetime.datetime
    hours: list[HealthHour]
    total: HealthHour  # its p50_ms and p95_ms are the whole 24 hours'

    @classmethod
    def of(cls, endpoint_id: str, hours: list[HealthHour]) -> Health:
        total = HealthHour(hours[0].hour, **{name: sum(getattr(h, name) for h in hours)
                                             for name in COUNTS})
        return cls(endpoint_id, hours[0].hour, hours[-1].hour + HOUR, hours, total)

    @classmethod
    def together(cls, name: str, healths: Sequence[Health]) -> Health:
        """Several endpoints' health (at least one, over the same hours) summed hour by
        hour, read with the same definitions as one endpoint's: a domain's figures."""
        hours = [HealthHour(same[0].hour, **{n: sum(getattr(h, n) for h in same)
                                              for n in COUNTS})
                 for same in zip(*(h.hours for h in healths), strict=True)]
        return cls.of(name, hours)

    @property
    def success_percent(self) -> float | None:
        """The share of attempts that succeeded, rounded down to 0.1 (so 100.0 means every
        one); None without attempts."""
        attempts = self.total.attempts
        return (1000 * self.total.succeeded // attempts) / 10 if attempts else None

    @property
    def details(self) -> list[str]:
        """What went wrong besides the share: failed attempts always, the rest when any."""
        t = self.total
        parts = [f"{t.failed:,} failed"] if t.attempts else []
        if t.gave_up:
            parts.append(counted(t.gave_up, "delivery") + " failed for good")
        if t.cancelled:
            parts.append(counted(t.cancelled, "delivery") + " cancelled")
        if t.circuit_openings:
            parts.append("circuit opened " + counted(t.circuit_openings, "time"))
        return parts

    @property
    def headline(self) -> str:
        """"81.9 % of 61 attempts succeeded", or "No attempts"."""
        if not self.total.attempts:
            return "No attempts"
        attempts = counted(self.total.attempts, "attempt")
        return f"{self.success_percent:.1f} % of {attempts} succeeded"

    @property
    def summary(self) -> str:
        """The figure in one line: "81.9 % of 61 attempts succeeded; 11 failed; 30
        deliveries cancelled; circuit opened 1 time"."""
        return "; ".join([self.headline, *self.details])


def endpoint_health(
    endpoints: Sequence[Endpoint], until: datetime.datetime | None = None
) -> dict[int, Health]:
    """Each endpoint's health over the 24 whole hours up to ``until`` (default: now), by
    primary key."""
    hours = day_until(until)
    since, end = hours[0], hours[-1] + HOUR
    table = {(e.pk, hour): HealthHour(hour) for e in endpoints for hour in hours}
    if endpoints:
        _add_attempts(table, endpoints, since, end)
        whole_day = _add_latency(table, endpoints, since, end)
        _add_endings(table, endpoints, since, end)
        _add_openings(table, endpoints, since, end)
    health = {e.pk: Health.of(e.endpoint_id, [table[(e.pk, hour)] for hour in hours])
              for e in endpoints}
    for pk, histogram in (whole_day if endpoints else {}).items():
        health[pk].total.p50_ms = _quantile_bound(histogram, 0.5)
        health[pk].total.p95_ms = _quantile_bound(histogram, 0.95)
    return health


Table = dict[tuple[int, datetime.datetime], HealthHour]


def _add_attempts(table: Table, endpoints: Sequence[Endpoint], since: datetime.datetime,
                  end: datetime.datetime) -> None:
    """Attempts by outcome, from the hourly rollup the recorder keeps."""
    rows = EndpointHourlyStat.objects.filter(endpoint__in=endpoints, hour__gte=since,
                                             hour__lt=end)
    for endpoint_id, hour, succeeded, failed in rows.values_list(
        "endpoint_id", "hour", "succeeded", "failed"
    ):
        stat = table.get((endpoint_id, hour))
        if stat is not None:
            stat.succeeded, stat.failed = succeeded, failed


def _quantile_bound(histogram: dict[int, int], fraction: float) -> int | None:
    """The upper bound (ms) of the bucket holding the ``fraction`` quantile; past the
    last bound, the last bound plus one (read as "more than")."""
    total = sum(histogram.values())
    if not total:
        return None
    running = 0
    for bucket in sorted(histogram):
        running += histogram[bucket]
        if running >= fraction * total:
            return (LATENCY_BOUNDS_MS[bucket] if bucket < len(LATENCY_BOUNDS_MS)
                    else LATENCY_BOUNDS_MS[-1] + 1)
    return None


def _add_latency(table: Table, endpoints: Sequence[Endpoint], since: datetime.datetime,
                 end: datetime.datetime) -> dict[int, dict[int, int]]:
    """Each hour's p50 and p95 from the attempts' latency histogram; returns each
    endpoint's histogram of the whole period."""
    histograms: dict[tuple[int, datetime.datetime], dict[int, int]] = {}
    whole: dict[int, dict[int, int]] = {}
    for endpoint_id, hour, bucket, count in EndpointLatencyStat.objects.filter(
        endpoint__in=endpoints, hour__gte=since, hour__lt=end
    ).values_list("endpoint_id", "hour", "bucket", "count"):
        histograms.setdefault((endpoint_id, hour), {})[bucket] = count
        day = whole.setdefault(endpoint_id, {})
        day[bucket] = day.get(bucket, 0) + count
    for key, histogram in histograms.items():
        stat = table.get(key)
        if stat is not None:
            stat.p50_ms = _quantile_bound(histogram, 0.5)
            stat.p95_ms = _quantile_bound(histogram, 0.95)
    return whole


def _add_endings(table: Table, endpoints: Sequence[Endpoint], since: datetime.datetime,
                 end: datetime.datetime) -> None:
    """Deliveries that failed for good or were cancelled, by the hour they ended."""
    counts = (Delivery.objects.filter(endpoint__in=endpoints, test=False,
                                      state__in=(DeliveryState.FAILED, DeliveryState.CANCELLED),
                                      finished_at__gte=since, finished_at__lt=end)
              .annotate(ended=TruncHour("finished_at")).order_by()
              .values_list("endpoint_id", "ended", "state").annotate(n=Count("id")))
    for endpoint_id, hour, state, count in counts:
        stat = table.get((endpoint_id, hour))
        if stat is None:
            continue
        if state == DeliveryState.FAILED:
            stat.gave_up = count
        else:
            stat.cancelled = count


def _add_openings(table: Table, endpoints: Sequence[Endpoint], since: datetime.datetime,
                  end: datetime.datetime) -> None:
    """Circuit openings, from the audit entries the recorder writes as each one opens."""
    by_public_id = {e.endpoint_id: e.pk for e in endpoints}
    counts = (AuditEntry.objects.filter(domain_id__in={e.domain_id for e in endpoints},
                                        created_at__gte=since, created_at__lt=end,
                                        action=CIRCUIT_OPENED, object_id__in=by_public_id)
              .annotate(opened=TruncHour("created_at")).order_by()
              .values_list("object_id", "opened").annotate(n=Count("id")))
    for public_id, hour, count in counts:
        stat = table.get((by_public_id[public_id], hour))
        if stat is not None:
            stat.circuit_openings = count
