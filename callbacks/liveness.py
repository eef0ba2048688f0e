"""Who is alive: every Celery worker process registers a ``Worker`` row with its roles
and heartbeats it each ``CALLBACK_WORKER_HEARTBEAT`` seconds (camio_portal/celery.py
starts the heartbeat through callbacks.tasks). A worker not seen for ``MISSED``
intervals is dead. ``/healthz``, ``/metrics`` and the admin read ``live``; the delivery
engine reads ``peers`` (who listens to which notifications) and takes back a dead
worker's claims (callbacks.delivery.sweeper) on each beat of a delivery worker.
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
from django.db import connection
from django.utils import timezone

from callbacks.models import Worker

log = logging.getLogger(__name__)

ROLES = ("deliveries", "other")
MISSED = 3  # heartbeats missed before a worker counts as dead


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


class Heartbeat:
    """This process's registration and the thread that keeps it alive; ``each_beat`` runs
    after every beat, given whether it is the first (a delivery worker learns its peers and
    takes back dead workers' claims there). It never blocks the worker's start: while the
    database does not answer it tries again each beat."""

    def __init__(self, roles: Sequence[str],
                 each_beat: Callable[[bool], object] | None = None,
                 worker_id: uuid.UUID | None = None) -> None:
        self.roles = tuple(roles)
        self.each_beat = each_beat
        self.id = worker_id or uuid.uuid4()
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
                if self.each_beat is not None:
                    self.each_beat(first)
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
                    each_beat: Callable[[bool], object] | None = None,
                    worker_id: uuid.UUID | None = None) -> Heartbeat:
    global _current
    if _current is None:
        _current = Heartbeat(roles, each_beat, worker_id).start()
    return _current


def stop_heartbeat() -> None:
    global _current
    heartbeat, _current = _current, None
    if heartbeat is not None and heartbeat.pid == os.getpid():
        heartbeat.stop()
