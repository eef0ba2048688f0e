"""Taking back what a stopped worker held, and the delivery sweeper.

A worker whose heartbeat stopped (callbacks.liveness) is dead: any live delivery worker
(each beat), a delivery worker starting (its own predecessor on this host at once) and
the sweeper take its claims back, so a killed worker costs seconds, not a lease. The
lease stays as the last resort (a claim made outside any worker: the command line's
test event). A claim taken back may have reached the receiver: it is logged as an
attempt whose outcome is unknown, takes the next attempt number and uses no slot of the
retry schedule; it counts in no health figure and no hourly rollup.

The sweeper (beat, every CALLBACK_SWEEP_INTERVAL, on the delivery queue) takes back the
claims of stopped workers and of expired leases, and picks the probes of open circuits.
Due deliveries need no sweeping: the delivery workers scan for them
(callbacks.delivery.outbox).

Deliveries of an endpoint whose circuit is open wait (the claim leaves them); when its
next probe is due, the sweeper picks the endpoint's oldest due delivery (first of its
key on an ordered endpoint) as the probe and wakes the workers, which claim it.
"""

from __future__ import annotations

import datetime
import logging
import os
import socket

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from callbacks.delivery.claims import behind_in_order
from callbacks.delivery.outbox import wake
from callbacks.liveness import window
from callbacks.models import Attempt, Delivery, DeliveryState, Endpoint, Heartbeat, Worker
from domains.formats import mask_url

log = logging.getLogger(__name__)

UNKNOWN_OUTCOME = (
    "Outcome unknown: the worker stopped while sending ({why}); the receiver may have got "
    "this request. It is sent again."
)


def _gone_here(worker: Worker) -> bool:
    """A worker of this host whose process no longer runs (a restarted worker's predecessor)."""
    if worker.hostname != socket.gethostname()[:255] or worker.pid == os.getpid():
        return False
    try:
        os.kill(worker.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def take_back_dead(now: datetime.datetime | None = None, *, at_start: bool = False) -> list[list]:
    """Remove the workers whose heartbeat stopped and return their claims to pending
    (``at_start``: also those of this host whose process is gone, without waiting for their
    heartbeat to age). Returns the deliveries taken back as [id, endpoint id] pairs."""
    now = now or timezone.now()
    with transaction.atomic():
        stale = Worker.objects.select_for_update(skip_locked=True)
        dead = list(stale.filter(seen_at__lt=now - window()))
        if at_start:
            dead += [w for w in stale.filter(seen_at__gte=now - window()) if _gone_here(w)]
        if not dead:
            return []
        Worker.objects.filter(pk__in=[w.pk for w in dead]).delete()
        taken = take_back(Q(claim_token__in=[w.pk for w in dead]), now,
                          "its heartbeat stopped")
    if taken:
        log.warning("took back %d deliveries claimed by %d stopped worker(s): %s", len(taken),
                    len(dead), ", ".join(f"{w.hostname} pid {w.pid}" for w in dead))
    return taken


def take_back(which: Q, now: datetime.datetime, why: str, limit: int | None = None) -> list[list]:
    """Return the ``sending`` deliveries matching ``which`` to pending, due now, logging an
    outcome-unknown attempt for each; return them as [id, endpoint id] pairs."""
    lease = datetime.timedelta(seconds=settings.CALLBACK_LEASE_SECONDS)
    with transaction.atomic():
        rows = list(
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(which, state=DeliveryState.SENDING).order_by()
            .values_list("id", "endpoint_id", "attempt_count", "next_attempt_at",
                         "lease_expires_at", "event_id", "endpoint__method",
                         "endpoint__url")[:limit]
        )
        if not rows:
            return []
        error = UNKNOWN_OUTCOME.format(why=why)[:500]
        attempts = []
        for pk, _, count, due, expires, event_id, method, url in rows:
            claimed = (expires or now) - lease  # when the worker claimed it
            attempts.append(Attempt(
                delivery_id=pk, number=count + 1, due_at=due, started_at=claimed,
                finished_at=claimed, duration_ms=0, request_method=method,
                request_url=mask_url(url)[:2048], request_headers=[["webhook-id", str(event_id)]],
                error=error, outcome_unknown=True))
        Attempt.objects.bulk_create(attempts)
        Delivery.objects.filter(id__in=[row[0] for row in rows]).update(
            state=DeliveryState.PENDING, claim_token=None, lease_expires_at=None,
            attempt_count=F("attempt_count") + 1,
            off_schedule_attempts=F("off_schedule_attempts") + 1,
            last_error="Outcome unknown: the worker stopped while sending.",
            last_status_code=None)
    return [[str(row[0]), row[1]] for row in rows]


def take_back_expired(now: datetime.datetime, limit: int) -> int:
    """Return claims whose lease expired to pending (the last resort: a claim of a worker
    that never heartbeated), logging an outcome-unknown attempt for each."""
    why = f"its lease had expired by {now:%Y-%m-%d %H:%M:%S} UTC"
    return len(take_back(Q(lease_expires_at__lt=now), now, why, limit))


def sweep() -> dict[str, int]:
    """Take back what stopped workers held and pick the probes of open circuits."""
    now = timezone.now()
    dead = len(take_back_dead(now))
    expired = take_back_expired(now, settings.CALLBACK_SWEEP_LIMIT) + dead
    probes = pick_probes(now)
    wake(probes)
    Heartbeat.objects.update_or_create(name="sweeper", defaults={"at": now})
    if expired or probes:
        log.info("sweep taken_back=%d probes=%d", expired, len(probes))
    return {"taken_back": expired, "probes": len(probes)}


def pick_probes(now: datetime.datetime, endpoint_ids: list[int] | None = None) -> list[list]:
    """For each open circuit whose probe is due, pick its oldest due delivery as the
    probe (one at a time: the next is picked after the interval); return [id, endpoint]
    pairs to enqueue. Given ``endpoint_ids`` ("probe now"), probe those at once, with
    their oldest waiting delivery even if its retry is not due yet."""
    circuits = Endpoint.objects.active().filter(circuit_opened_at__isnull=False)
    circuits = (circuits.filter(pk__in=endpoint_ids) if endpoint_ids is not None
                else circuits.filter(next_probe_at__lte=now))
    picked: list[list] = []
    for pk, interval in circuits.values_list("pk", "probe_interval"):
        waiting = Delivery.objects.filter(endpoint_id=pk, state=DeliveryState.PENDING,
                                          test=False).exclude(behind_in_order())
        if endpoint_ids is None:
            waiting = waiting.filter(next_attempt_at__lte=now)
        probe = waiting.order_by("next_attempt_at").values_list("id", flat=True).first()
        if probe is not None and endpoint_ids is not None:
            Delivery.objects.filter(pk=probe, next_attempt_at__gt=now).update(next_attempt_at=now)
        wait = datetime.timedelta(seconds=interval or settings.CALLBACK_BREAKER_PROBE_MIN)
        Endpoint.objects.filter(pk=pk).update(probe_delivery_id=probe, next_probe_at=now + wait)
        if probe is not None:
            picked.append([str(probe), pk])
    return picked
