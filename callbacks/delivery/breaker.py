"""An endpoint's health and circuit breaker: one value type, judged from a batch of
results in memory and written back with one statement (the recorder holds the rows'
locks meanwhile).

Health: when the endpoint last succeeded and was last tried, its failures in a row, since
when it fails and the last error.

The circuit breaker: ``CALLBACK_BREAKER_FAILURES`` consecutive failures that count
(``Verdict.trips_breaker``) open it; while it is open the claim holds the endpoint's
deliveries back (tests aside) and the sweeper sends one probe at a time. A probe that
fails that way doubles the interval (``CALLBACK_BREAKER_PROBE_MIN`` to ``_MAX``); any
answer that does not count (a success, a 4xx, a Retry-After) closes the circuit, and
every waiting delivery is due at once. A 429 or 503 with Retry-After pauses the endpoint
until then.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, fields

from django.conf import settings

from callbacks.delivery.outbox import execute
from callbacks.delivery.policy import Outcome, Result

OPENED, CLOSED = "opened", "closed"
GONE = "The endpoint answered 410 Gone."  # the reason an endpoint is disabled for a 410


def describe_failure(result: Result) -> str:
    return result.error[:500] if result.error else f"HTTP {result.status}"


@dataclass(slots=True)
class Breaker:
    """An endpoint's health and breaker columns, as read under its row lock."""

    pk: int
    live: bool  # enabled and not deleted
    last_success_at: datetime.datetime | None
    last_attempt_at: datetime.datetime | None
    consecutive_failures: int
    failing_since: datetime.datetime | None
    last_error: str
    breaker_failures: int
    circuit_opened_at: datetime.datetime | None
    next_probe_at: datetime.datetime | None
    probe_interval: float
    probe_delivery_id: object
    paused_until: datetime.datetime | None
    # "" while well; what began a failing episode: "failures" (CALLBACK_FAILING_AFTER in a
    # row) or "circuit" (it opened first); "~" before it once the episode ended, until the
    # announcer (callbacks/services/operational.py) has told it and set it back to "".
    health_state: str

    def judge(self, results: list[Result], now: datetime.datetime) -> str | None:
        """Apply a batch of this endpoint's counted results; return "opened" or "closed"
        when the circuit changed."""
        results = sorted(results, key=lambda r: r.finished_at)
        self._health(results)
        changed = self._breaker(results, now)
        failing = self.health_state and not self.health_state.startswith("~")
        if self.consecutive_failures == 0:
            self.health_state = f"~{self.health_state}" if failing else self.health_state
        elif not failing and changed == OPENED:
            self.health_state = "circuit"
        elif not failing and 0 < settings.CALLBACK_FAILING_AFTER <= self.consecutive_failures:
            self.health_state = "failures"
        return changed

    def _health(self, results: list[Result]) -> None:
        self.last_attempt_at = results[-1].finished_at
        ok = [r for r in results if r.verdict.outcome == Outcome.SUCCEEDED]
        if ok:
            after = [r for r in results if r.finished_at > ok[-1].finished_at
                     and r.verdict.outcome != Outcome.SUCCEEDED]
            self.last_success_at, self.consecutive_failures = ok[-1].finished_at, len(after)
            self.failing_since = after[0].finished_at if after else None
            self.last_error = describe_failure(after[-1]) if after else ""
        else:
            self.consecutive_failures += len(results)
            self.failing_since = self.failing_since or results[0].finished_at
            self.last_error = describe_failure(results[-1])

    def _breaker(self, results: list[Result], now: datetime.datetime) -> str | None:
        answered = probe_failed = False
        for result in results:
            if result.verdict.trips_breaker:
                self.breaker_failures += 1
                probe_failed = probe_failed or result.job.probe
            elif result.status is not None:
                self.breaker_failures, answered = 0, True
            if result.verdict.retry_after:  # 429/503 with Retry-After: the endpoint waits
                until = result.finished_at + datetime.timedelta(seconds=result.verdict.retry_after)
                self.paused_until = max(until, self.paused_until or until)
        if self.circuit_opened_at is not None and answered:
            self.circuit_opened_at = self.next_probe_at = self.probe_delivery_id = None
            self.probe_interval, self.breaker_failures = 0, 0
            return CLOSED
        if self.circuit_opened_at is not None and probe_failed:
            self.probe_interval = min(max(self.probe_interval * 2,
                                          settings.CALLBACK_BREAKER_PROBE_MIN),
                                      settings.CALLBACK_BREAKER_PROBE_MAX)
            self._probe_after(now)
            return None
        threshold = settings.CALLBACK_BREAKER_FAILURES
        if self.circuit_opened_at is None and threshold and self.breaker_failures >= threshold:
            self.circuit_opened_at, self.probe_interval = now, settings.CALLBACK_BREAKER_PROBE_MIN
            self._probe_after(now)
            return OPENED
        return None

    def _probe_after(self, now: datetime.datetime) -> None:
        self.probe_delivery_id = None
        self.next_probe_at = now + datetime.timedelta(seconds=self.probe_interval)

    def broken(self, gone: bool, now: datetime.datetime) -> str:
        """Why to disable the endpoint ("" to keep it): it answered 410, or every attempt
        failed for ``CALLBACK_DISABLE_AFTER_DAYS``."""
        if not self.live:
            return ""
        if gone:
            return GONE
        days = settings.CALLBACK_DISABLE_AFTER_DAYS
        if self.failing_since and self.failing_since < now - datetime.timedelta(days=days):
            return f"Every attempt failed for {days:g} days."
        return ""


COLUMNS = [f.name for f in fields(Breaker)][2:]
_TYPES = {"last_success_at": "timestamptz", "last_attempt_at": "timestamptz",
          "consecutive_failures": "int", "failing_since": "timestamptz", "last_error": "text",
          "breaker_failures": "int", "circuit_opened_at": "timestamptz",
          "next_probe_at": "timestamptz", "probe_interval": "float8",
          "probe_delivery_id": "uuid", "paused_until": "timestamptz", "health_state": "varchar"}

LOCK_SQL = (f"SELECT id, enabled AND deleted_at IS NULL, {', '.join(COLUMNS)} "  # noqa: S608
            "FROM callbacks_endpoint WHERE id = ANY(%s) ORDER BY id FOR UPDATE")
WRITE_SQL = (
    f"UPDATE callbacks_endpoint e SET {', '.join(f'{c} = u.{c}' for c in COLUMNS)} "  # noqa: S608
    f"FROM unnest(%s::bigint[], {', '.join(f'%s::{_TYPES[c]}[]' for c in COLUMNS)}) "
    f"AS u (id, {', '.join(COLUMNS)}) WHERE e.id = u.id"
)


def lock(endpoint_ids: set[int]) -> dict[int, Breaker]:
    """Lock the endpoints' rows (in id order: recorders cannot deadlock) and read them."""
    if not endpoint_ids:
        return {}
    return {row[0]: Breaker(*row) for row in execute(LOCK_SQL, [sorted(endpoint_ids)])}


def write(breakers: list[Breaker]) -> None:
    """Write the endpoints' health and breaker columns back, one statement."""
    if breakers:
        params: list[list] = [[b.pk for b in breakers]]
        params += [[getattr(b, column) for b in breakers] for column in COLUMNS]
        execute(WRITE_SQL, params)
