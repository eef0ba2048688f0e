"""Who is alive, and taking back what a stopped worker held.

Every Celery worker process registers a ``Worker`` row with its roles and heartbeats
it each ``CALLBACK_WORKER_HEARTBEAT`` seconds (camio_portal/celery.py starts the
heartbeat; a delivery worker's dispatcher stamps its claims with the row's id). A
worker not seen for ``MISSED`` intervals is dead: any live delivery worker (each beat),
a delivery worker starting and the sweeper take its claims back at once, so a killed
worker costs seconds, not a lease. The lease stays as the last resort (a claim made
outside any worker: the command line's test event).

A claim taken back may have reached the receiver: it is logged as an attempt whose
outcome is unknown, takes the next attempt number and uses no slot of the retry
schedule; it counts in no health figure and no hourly rollup.
"""

from __future__ import annotations

import datetime
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Sequence

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from callbacks.models import Attempt, Delivery, DeliveryState, Worker
from domains.formats import mask_url

log = logging.getLogger(__name__)

ROLES = ("deliveries", "other")
MISSED = 3  # heartbeats missed before a worker counts as dead

UNKNOWN_OUTCOME = (
    "Outcome unknown: the worker stopped while sending ({why}); the receiver may have got "
    "this request. It is sent again."
)


def window() -> datetime.timedelta:
    """How long a worker stays alive without a heartbeat."""
    return datetime.timedelta(seconds=MISSED * settings.CALLBACK_WORKER_HEARTBEAT)


def register(roles: Sequence[str], worker_id: uuid.UUID | None = None) -> uuid.UUID:
    """Record this process as a live worker of ``roles``; return its id."""
    now = timezone.now()
    worker = Worker.objects.create(
        id=worker_id or uuid.uuid4(), roles=",".join(sorted(roles)),
        hostname=socket.gethostname()[:255], pid=os.getpid(), started_at=now, seen_at=now)
    return worker.id


def beat(worker_id: uuid.UUID, roles: Sequence[str]) -> None:
    """Say this worker is alive (again: a worker judged dead meanwhile comes back)."""
    if not Worker.objects.filter(pk=worker_id).update(seen_at=timezone.now()):
        register(roles, worker_id)


def unregister(worker_id: uuid.UUID) -> None:
    """A worker stopping cleanly (after its claims are recorded) leaves the list."""
    Worker.objects.filter(pk=worker_id).delete()


def peers(now: datetime.datetime | None = None) -> list[uuid.UUID]:
    """The live delivery workers' ids, in one order every worker sees alike."""
    cutoff = (now or timezone.now()) - window()
    return sorted(Worker.objects.filter(seen_at__gte=cutoff, roles__contains="deliveries")
                  .values_list("id", flat=True))


def live(now: datetime.datetime | None = None) -> dict[str, int]:
    """Live workers per role (every role named, 0 when none)."""
    cutoff = (now or timezone.now()) - window()
    counts = dict.fromkeys(ROLES, 0)
    for roles in Worker.objects.filter(seen_at__gte=cutoff).values_list("roles", flat=True):
        for role in roles.split(","):
            counts[role] = counts.get(role, 0) + 1
    return counts


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


class Heartbeat:
    """This process's registration and the thread that keeps it alive; a delivery worker's
    also takes back dead workers' claims each beat and hands them to ``taken_back``. It
    never blocks the worker's start: while the database does not answer it tries again
    each beat."""

    def __init__(self, roles: Sequence[str],
                 taken_back: Callable[[list[list]], object] | None = None) -> None:
        self.roles = tuple(roles)
        self.taken_back = taken_back
        self.id = uuid.uuid4()
        self.pid = os.getpid()  # a forked pool process inherits this object, not the thread
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="worker-heartbeat", daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def _run(self) -> None:
        first = True
        while True:
            try:
                beat(self.id, self.roles)
                if self.taken_back is not None:
                    # The first time, a predecessor on this host is taken back at once.
                    taken = take_back_dead(at_start=first)
                    if taken:
                        self.taken_back(taken)
                first = False
            except Exception:  # the database is away: the next beat tries again
                log.warning("worker heartbeat failed; trying again", exc_info=True)
                connection.close()
            if self._stop.wait(settings.CALLBACK_WORKER_HEARTBEAT):
                break
        connection.close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        try:
            unregister(self.id)
        except Exception:  # its row ages out; the others see it as stopped
            log.warning("could not unregister worker %s", self.id, exc_info=True)


_current: Heartbeat | None = None


def current_id() -> uuid.UUID | None:
    """This process's worker id (None outside a worker: the command line, the web)."""
    return _current.id if _current is not None else None


def start_heartbeat(roles: Sequence[str],
                    taken_back: Callable[[list[list]], object] | None = None) -> Heartbeat:
    global _current
    if _current is None:
        _current = Heartbeat(roles, taken_back).start()
    return _current


def stop_heartbeat() -> None:
    global _current
    heartbeat, _current = _current, None
    if heartbeat is not None and heartbeat.pid == os.getpid():
        heartbeat.stop()
