"""The per-process sender: drives claim → send → record, each in its own thread so
none waits for another.

- The *claimer* takes due ids handed over by tasks, claims as many of each
  endpoint's as that endpoint has free slots (``CALLBACK_ENDPOINT_INFLIGHT`` per
  process), and hands the jobs to the loop. A slot freed when a request
  finishes wakes it at once, so an endpoint's slots refill without waiting for
  the recorder.
- The *sender* loop (asyncio + aiohttp) sends concurrently, no transaction open.
- The *recorder* writes results in bulk, then acts on what ``record`` says must
  follow: retries enqueued with a countdown, endpoints to disable handed to a
  task.

Ids waiting in memory are safe to lose: their rows stay ``pending`` and the
sweeper enqueues them again. Claimed rows of a dead process come back when
their lease expires.
"""

from __future__ import annotations

import asyncio
import logging
import math
import queue
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from callbacks.delivery.claims import claim, claim_grouped, endpoints_of
from callbacks.delivery.outbox import enqueue, enqueue_deliveries
from callbacks.delivery.policy import Job, Result
from callbacks.delivery.recording import FollowUp, record
from callbacks.delivery.transport import AsyncSender, send_one

log = logging.getLogger(__name__)
FLUSH_SIZE = 500
# Results are written every 50 ms (or 500 results): receipts do not wait for it, and
# larger batches take fewer statements per delivery.
FLUSH_SECONDS = 0.05
# How long an endpoint rests here after the breaker's threshold of failures in a row.
LOCAL_BREAKER_REST = 1.0
DISABLE_TASK = "callbacks.endpoint_disable"
CIRCUIT_TASK = "callbacks.circuit_changed"

Item = str | list | tuple  # a delivery id, or [delivery id, endpoint id]


class Dispatcher:
    def __init__(self, worker: uuid.UUID | None = None) -> None:
        self.worker = worker  # this worker's id, stamped on its claims
        self.capacity = settings.CALLBACK_PROCESS_INFLIGHT
        self.endpoint_cap = settings.CALLBACK_ENDPOINT_INFLIGHT
        self.batch_size = settings.CALLBACK_BATCH_SIZE
        self._lock = threading.Condition()
        self._due: dict[int, dict[str, None]] = {}  # endpoint -> ids to claim, in order
        self._unsorted: dict[str, None] = {}  # ids that came without their endpoint
        self._in_flight: Counter[int] = Counter()  # reserved or sending, per endpoint
        self._unrecorded = 0  # reserved, sending or waiting for the recorder
        self._wake = threading.Event()
        self._resting: dict[int, float] = {}  # endpoint -> when its limits have room again
        self._capped: set[int] = set()  # resting until one of our requests to it finishes
        self._answered: Counter[int] = Counter()  # answered, waiting for the recorder
        # Consecutive failures that count toward the breaker, seen here before the recorder
        # opens the circuit: at the threshold the endpoint rests, so a fast-failing
        # receiver does not take a whole backlog's first attempts meanwhile.
        self._failing: Counter[int] = Counter()
        self._stopping = False
        self._results: queue.Queue[Result | None] = queue.Queue()
        self.loop = asyncio.new_event_loop()
        self.sender = AsyncSender(limit=self.capacity)
        self._threads = [
            threading.Thread(target=self._run_loop, name="callback-sender", daemon=True),
            threading.Thread(target=self._run_recorder, name="callback-recorder", daemon=True),
            threading.Thread(target=self._run_claimer, name="callback-claimer", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    # --- taking work in -------------------------------------------------------

    def accept(self, items: Iterable[Item]) -> int:
        """Take delivery ids (with their endpoint when known) to claim when there is room."""
        count = 0
        with self._lock:
            for item in items:
                if isinstance(item, str):
                    self._unsorted[item] = None
                else:
                    delivery_id, endpoint_id = item
                    self._due.setdefault(int(endpoint_id), {})[str(delivery_id)] = None
                count += 1
        self._wake.set()
        return count

    def _sort_unsorted(self) -> None:
        with self._lock:
            ids, self._unsorted = list(self._unsorted), {}
        if ids:
            self.accept([pk, endpoint] for endpoint, pks in endpoints_of(ids).items()
                        for pk in pks)

    def _reserve(self) -> dict[int, list[str]]:
        """Take ids to claim now, within each endpoint's free slots and the process's,
        round-robin across endpoints; the slots are reserved until the claim returns."""
        with self._lock:
            free = min(self.capacity - self._unrecorded, self.batch_size)
            taken: dict[int, list[str]] = defaultdict(list)
            now = time.monotonic()
            for endpoint_id, until in list(self._resting.items()):
                if until <= now:
                    del self._resting[endpoint_id]
            while free > 0:
                progressed = False
                for endpoint_id in list(self._due):
                    if free <= 0:
                        break
                    ids = self._due[endpoint_id]
                    if (self._in_flight[endpoint_id] >= self.endpoint_cap
                            or endpoint_id in self._resting):
                        continue
                    delivery_id = next(iter(ids))
                    del ids[delivery_id]
                    if not ids:
                        del self._due[endpoint_id]
                    taken[endpoint_id].append(delivery_id)
                    self._in_flight[endpoint_id] += 1
                    free -= 1
                    progressed = True
                if not progressed:
                    break
            self._unrecorded += sum(len(ids) for ids in taken.values())
        return taken

    def _release(self, endpoint_id: int, count: int, recorded: bool = True) -> None:
        with self._lock:
            self._in_flight[endpoint_id] -= count
            if self._in_flight[endpoint_id] <= 0:
                del self._in_flight[endpoint_id]
            if recorded:
                self._unrecorded -= count
                self._lock.notify_all()
            else:
                self._answered[endpoint_id] += count
            if endpoint_id in self._capped:  # a slot of the shared cap is free again
                self._capped.discard(endpoint_id)
                self._resting.pop(endpoint_id, None)
        self._wake.set()

    # --- claiming ----------------------------------------------------------------

    def _run_claimer(self) -> None:
        while True:
            timeout = 0.5
            with self._lock:
                if self._resting:  # ids an endpoint's limits held back: ask again then
                    soonest = min(self._resting.values()) - time.monotonic()
                    timeout = min(timeout, max(soonest, 0.001))
            self._wake.wait(timeout=timeout)
            self._wake.clear()
            if self._stopping:
                connection.close()
                return
            try:
                self._sort_unsorted()
                while self._claim_some():
                    pass
            except Exception:
                log.exception("claiming deliveries failed; the sweeper will catch up")
                connection.close()

    def _claim_some(self) -> int:
        """Claim one round of reserved ids and start sending them; return how many."""
        taken = self._reserve()
        if not taken:
            return 0
        total = sum(len(pks) for pks in taken.values())
        with self._lock:
            answered = {pk: self._answered[pk] for pk in taken if self._answered[pk]}
        try:
            result = claim_grouped(taken, total, answered, self.worker)
        except Exception:
            for endpoint_id, pks in taken.items():
                self._release(endpoint_id, len(pks))
            raise
        jobs = result.jobs
        claimed = Counter(job.endpoint_id for job in jobs)
        for endpoint_id, pks in taken.items():
            unclaimed = len(pks) - claimed[endpoint_id]
            if unclaimed:  # not due yet, held back, or sent elsewhere
                self._release(endpoint_id, unclaimed)
        if result.deferred:
            self._defer(result.deferred, result.retry_in, result.capped)
        if jobs:
            self.loop.call_soon_threadsafe(self._start, jobs)
        return total

    def _defer(self, deferred: dict[int, list[str]], retry_in: dict[int, float],
               capped: set[int]) -> None:
        """Keep ids an endpoint's limits held back, first in line; that endpoint rests
        until its limits have room again: its rate limit's next start, or for the
        in-flight cap, the next of our requests to it that finishes (a short while when
        the other workers hold every slot)."""
        now = time.monotonic()
        with self._lock:
            for endpoint_id, ids in deferred.items():
                rest = self._due.get(endpoint_id, {})
                self._due[endpoint_id] = {**dict.fromkeys(ids), **rest}
                self._resting[endpoint_id] = now + retry_in[endpoint_id]
                if endpoint_id in capped and self._in_flight[endpoint_id] > 0:
                    self._capped.add(endpoint_id)
                    self._resting[endpoint_id] = now + 1.0  # or sooner, when one finishes

    # --- sending -------------------------------------------------------------------

    def _start(self, jobs: list[Job]) -> None:
        for job in jobs:
            self.loop.create_task(self._send(job))

    async def _send(self, job: Job) -> None:
        try:
            if job.not_before is not None:  # the endpoint's rate limit gave it this start
                wait = (job.not_before - timezone.now()).total_seconds()
                if wait > 0:
                    await asyncio.sleep(wait)
            result = await self.sender.send(job)
        except Exception:  # the lease brings the delivery back
            log.exception("sending delivery %s failed unexpectedly", job.delivery_id)
            self._release(job.endpoint_id, 1)
            return
        self._release(job.endpoint_id, 1, recorded=False)  # the slot refills now
        self._results.put(result)
        if not job.test:
            self._watch_breaker(job.endpoint_id, result)

    def _watch_breaker(self, endpoint_id: int, result: Result) -> None:
        threshold = settings.CALLBACK_BREAKER_FAILURES
        if not threshold:
            return
        with self._lock:
            if not result.verdict.trips_breaker:
                self._failing.pop(endpoint_id, None)
                return
            self._failing[endpoint_id] += 1
            if self._failing[endpoint_id] >= threshold:  # the recorder opens it meanwhile
                self._failing.pop(endpoint_id, None)
                self._capped.discard(endpoint_id)
                self._resting[endpoint_id] = time.monotonic() + LOCAL_BREAKER_REST

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    # --- recording -------------------------------------------------------------------

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
            follow_up = self._flush(batch)
            if follow_up.ready:  # next of their key: claim here at once, not via the broker
                self.accept(follow_up.ready)
            follow(follow_up)

    def _flush(self, batch: list[Result]) -> FollowUp:
        try:
            for attempt in range(3):  # a deadlock or lost connection is worth a retry
                try:
                    return record(batch)
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
                self._answered.subtract(Counter(result.job.endpoint_id for result in batch))
                self._answered += Counter()  # drop the zeros
                self._lock.notify_all()
            self._wake.set()
        return FollowUp()

    # --- lifecycle ---------------------------------------------------------------------

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every claimed job is sent and recorded."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._unrecorded > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(remaining)
        return True

    def stop(self, timeout: float = 30.0) -> None:
        self._stopping = True
        self._wake.set()
        self._threads[2].join(timeout=10)
        self.wait_idle(timeout)
        self._results.put(None)
        self._threads[1].join(timeout=5)
        future = asyncio.run_coroutine_threadsafe(self.sender.close(), self.loop)
        try:
            future.result(timeout=5)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._threads[0].join(timeout=5)


def follow(follow_up: FollowUp) -> None:
    """Enqueue retries due within the hour with a countdown (later ones wait for the
    sweeper), hand endpoints to disable to their task and circuits that opened or
    closed to theirs (the admins' e-mail)."""
    buckets: dict[int, list[list]] = defaultdict(list)
    for delivery_id, endpoint_id, seconds in follow_up.retries:
        if seconds <= 3600:
            buckets[math.ceil(seconds)].append([delivery_id, endpoint_id])
    for seconds, items in buckets.items():
        enqueue_deliveries(items, countdown=seconds or None)
    if follow_up.disable:
        enqueue(DISABLE_TASK, [[pk, reason] for pk, reason in follow_up.disable.items()])
    if follow_up.circuits:
        enqueue(CIRCUIT_TASK, [[pk, state] for pk, state in follow_up.circuits.items()])


_dispatcher: Dispatcher | None = None
_lock = threading.Lock()


_worker: uuid.UUID | None = None


def get_dispatcher(worker: uuid.UUID | None = None) -> Dispatcher:
    """Return this process's dispatcher, starting it on first use (after any fork) for
    ``worker`` (this process's worker id, given once when the worker starts)."""
    global _dispatcher, _worker
    with _lock:
        _worker = worker or _worker
        if _dispatcher is None:
            _dispatcher = Dispatcher(_worker)
        return _dispatcher


def shutdown_dispatcher(timeout: float = 30.0) -> None:
    """Finish in-flight sends and stop (worker shutdown, tests)."""
    global _dispatcher
    with _lock:
        dispatcher, _dispatcher = _dispatcher, None
    if dispatcher is not None:
        dispatcher.stop(timeout)


def send_now(delivery_id: str) -> Result | None:
    """Claim, send and record one delivery in this process (the command line's test event)."""
    jobs = claim([delivery_id], 1)
    if not jobs:
        return None
    result = send_one(jobs[0])
    follow(record([result]))
    return result
