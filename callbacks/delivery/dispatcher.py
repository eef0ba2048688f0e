"""The per-process sender: an asyncio loop (aiohttp) in one thread, a recorder in
another.

A Celery task claims deliveries and hands their jobs to the dispatcher, then
returns; the loop sends them concurrently with no transaction open, and the
recorder writes results in bulk as they complete. Each endpoint may have at
most ``CALLBACK_ENDPOINT_INFLIGHT`` requests outstanding in this process, so a
slow or hanging endpoint holds only its own slots, never a worker. Due
deliveries of an endpoint at its cap wait here (still ``pending`` in the
database) and are claimed as soon as its requests finish. If the process dies,
claimed rows' leases expire and the sweeper sends them again; waiting rows were
never claimed.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections import Counter

from django.conf import settings
from django.db import DatabaseError, connection

from callbacks.delivery.claims import claim
from callbacks.delivery.policy import Job, Result
from callbacks.delivery.recording import record
from callbacks.delivery.transport import AsyncSender

log = logging.getLogger(__name__)
FLUSH_SIZE = 500
FLUSH_SECONDS = 0.02
CLAIM_GATHER_SECONDS = 0.002


class Dispatcher:
    def __init__(self) -> None:
        self.capacity = settings.CALLBACK_PROCESS_INFLIGHT
        self.endpoint_cap = settings.CALLBACK_ENDPOINT_INFLIGHT
        self._lock = threading.Condition()
        self._outstanding: Counter[int] = Counter()  # claimed, HTTP not finished, per endpoint
        self._unrecorded = 0  # claimed, result not yet written
        self._waiting: dict[int, dict[str, None]] = {}  # endpoint -> ordered due ids
        self._results: queue.Queue[Result | None] = queue.Queue()
        self._incoming: queue.Queue[list[str] | None] = queue.Queue()
        self.loop = asyncio.new_event_loop()
        self.sender = AsyncSender(limit=self.capacity)
        self._loop_thread = threading.Thread(target=self._run_loop, name="callback-sender",
                                             daemon=True)
        self._recorder = threading.Thread(target=self._run_recorder, name="callback-recorder",
                                          daemon=True)
        self._claimer = threading.Thread(target=self._run_claimer, name="callback-claimer",
                                         daemon=True)
        self._loop_thread.start()
        self._recorder.start()
        self._claimer.start()

    # --- room -----------------------------------------------------------------

    def room(self, endpoint_ids: set[int]) -> dict[int, int]:
        """Free request slots per endpoint in this process."""
        with self._lock:
            return {e: max(0, self.endpoint_cap - self._outstanding[e]) for e in endpoint_ids}

    def free(self) -> int:
        """Free slots in this process (bounds memory and lease exposure)."""
        with self._lock:
            return max(0, self.capacity - self._unrecorded)

    # --- claiming and sending -------------------------------------------------

    def accept(self, ids: list[str]) -> int:
        """Take delivery ids from a task; the claimer claims them in batches.

        Ids held only in memory are safe to lose: their rows stay pending and
        the sweeper enqueues them again.
        """
        self._incoming.put(list(ids))
        return len(ids)

    def _run_claimer(self) -> None:
        while True:
            try:
                first = self._incoming.get(timeout=0.5)
            except queue.Empty:
                self._pump()
                continue
            if first is None:
                connection.close()
                return
            ids = list(first)
            deadline = time.monotonic() + CLAIM_GATHER_SECONDS
            while len(ids) < settings.CALLBACK_BATCH_SIZE:
                try:
                    more = self._incoming.get(timeout=max(deadline - time.monotonic(), 0.0005))
                except queue.Empty:
                    break
                if more is None:
                    self._incoming.put(None)
                    break
                ids += more
            if ids:
                try:
                    self.claim_and_send(list(dict.fromkeys(ids)))
                except Exception:
                    log.exception("claiming %d deliveries failed; the sweeper will catch up",
                                  len(ids))
                    connection.close()
            self._pump()

    def claim_and_send(self, ids: list[str]) -> int:
        """Claim what is due among ``ids``, send it, park what must wait; return the count."""
        sent, remaining = 0, list(ids)
        while remaining:
            limit = min(len(remaining), settings.CALLBACK_BATCH_SIZE, self.free())
            if limit <= 0:
                self.park({-1: remaining})
                break
            taken = claim(remaining, limit, self.room)
            self.park(taken.waiting)
            self.submit(taken.jobs)
            sent += len(taken.jobs)
            if not taken.jobs:
                break
            remaining = taken.more
        return sent

    def park(self, waiting: dict[int, list[str]]) -> None:
        with self._lock:
            for endpoint_id, ids in waiting.items():
                self._waiting.setdefault(endpoint_id, {}).update(dict.fromkeys(ids))

    def _unpark(self) -> list[str]:
        """Take as many parked ids as their endpoints (and the process) have room for."""
        with self._lock:
            free = max(0, self.capacity - self._unrecorded)
            taken: list[str] = []
            for endpoint_id in list(self._waiting):
                room = free if endpoint_id == -1 else \
                    self.endpoint_cap - self._outstanding[endpoint_id]
                room = min(room, free - len(taken))
                if room <= 0:
                    continue
                parked = self._waiting[endpoint_id]
                for delivery_id in list(parked)[:room]:
                    del parked[delivery_id]
                    taken.append(delivery_id)
                if not parked:
                    del self._waiting[endpoint_id]
        return taken

    def submit(self, jobs: list[Job]) -> None:
        """Send ``jobs`` without waiting for them."""
        with self._lock:
            for job in jobs:
                self._outstanding[job.endpoint_id] += 1
            self._unrecorded += len(jobs)
        for job in jobs:
            asyncio.run_coroutine_threadsafe(self._send(job), self.loop)

    async def _send(self, job: Job) -> None:
        try:
            result = await self.sender.send(job)
        except Exception:  # the lease brings the delivery back
            log.exception("sending delivery %s failed unexpectedly", job.delivery_id)
            self._finished(job, recorded=True)
            return
        self._finished(job, recorded=False)
        self._results.put(result)

    def _finished(self, job: Job, recorded: bool) -> None:
        with self._lock:
            self._outstanding[job.endpoint_id] -= 1
            if recorded:
                self._unrecorded -= 1
                self._lock.notify_all()

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    # --- recording ------------------------------------------------------------

    def _run_recorder(self) -> None:
        while True:
            first = self._results.get()
            if first is None:
                connection.close()  # this thread's own connection
                return
            batch = [first]
            deadline = time.monotonic() + FLUSH_SECONDS
            while len(batch) < FLUSH_SIZE:
                try:
                    item = self._results.get(timeout=max(deadline - time.monotonic(), 0.001))
                except queue.Empty:
                    break
                if item is None:
                    self._results.put(None)
                    break
                batch.append(item)
            self._flush(batch)
            self._incoming.put([])  # wake the claimer: endpoints may have room again

    def _flush(self, batch: list[Result]) -> None:
        from callbacks.delivery.engine import schedule_retries

        retries: list[tuple[str, float]] = []
        try:
            for attempt in range(3):  # a deadlock or lost connection is worth a retry
                try:
                    retries = record(batch)
                    break
                except DatabaseError:
                    if attempt == 2:
                        raise
                    log.warning("recording %d results failed; retrying", len(batch))
                    connection.close()
        except Exception:
            log.exception("recording %d results failed; their leases will bring them back",
                          len(batch))
            connection.close()
        finally:
            with self._lock:
                self._unrecorded -= len(batch)
                self._lock.notify_all()
        try:
            schedule_retries(retries)
        except Exception:
            log.exception("scheduling retries failed; the sweeper will catch up")

    def _pump(self) -> None:
        """Claim parked deliveries whose endpoints have room again."""
        ids = self._unpark()
        if not ids:
            return
        try:
            self.claim_and_send(ids)
        except Exception:
            log.exception("claiming %d waiting deliveries failed; the sweeper will catch up",
                          len(ids))
            connection.close()

    # --- lifecycle --------------------------------------------------------------

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every submitted job is sent and recorded."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._unrecorded > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(remaining)
        return True

    def stop(self, timeout: float = 30.0) -> None:
        self._incoming.put(None)
        self._claimer.join(timeout=10)
        self.wait_idle(timeout)
        self._results.put(None)
        self._recorder.join(timeout=5)
        future = asyncio.run_coroutine_threadsafe(self.sender.close(), self.loop)
        try:
            future.result(timeout=5)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._loop_thread.join(timeout=5)


_dispatcher: Dispatcher | None = None
_lock = threading.Lock()


def get_dispatcher() -> Dispatcher:
    """Return this process's dispatcher, starting it on first use (after any fork)."""
    global _dispatcher
    with _lock:
        if _dispatcher is None:
            _dispatcher = Dispatcher()
        return _dispatcher


def shutdown_dispatcher(timeout: float = 30.0) -> None:
    """Finish in-flight sends and stop (worker shutdown, tests)."""
    global _dispatcher
    with _lock:
        dispatcher, _dispatcher = _dispatcher, None
    if dispatcher is not None:
        dispatcher.stop(timeout)
