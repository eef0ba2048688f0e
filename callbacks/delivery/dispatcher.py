"""The per-process sender: learn where work is due, claim fair shares, send, record;
each in its own thread so none waits for another.

- The *listener* (callbacks.delivery.outbox) hears the outbox's notifications on this
  worker's channels and scans for due work every ``CALLBACK_SCAN_INTERVAL`` seconds.
- The *claimer* (callbacks.delivery.shares) plans how many to take for each endpoint
  with due work (fair between domains, then endpoints) and claims them.
- The *sender* loop (asyncio on uvloop + aiohttp) sends concurrently, no transaction
  open.
- The *recorder* writes results in bulk, then acts on what ``record`` says must
  follow: retries become due work here, at their time; endpoints to disable and
  circuits that changed are handed to tasks.

Nothing here is the only copy of anything: the rows stay ``pending`` until claimed, and
a claim of a worker that stops comes back with its heartbeat (callbacks.delivery.sweeper).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import queue
import threading
import time
import uuid
from collections import Counter

import uvloop
from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from callbacks.delivery.claims import claim
from callbacks.delivery.outbox import Listener, enqueue, renew_connection
from callbacks.delivery.policy import Job, Result
from callbacks.delivery.recording import FollowUp, record
from callbacks.delivery.shares import Claimer, channels
from callbacks.delivery.transport import AsyncSender, send_one

log = logging.getLogger(__name__)
FLUSH_SIZE = 500
# Results are written every 50 ms (or 500 results): receipts do not wait for it, and
# larger batches take fewer statements per delivery. A batch with a delivery of a
# per_key endpoint goes sooner: the next of its key waits for this record.
FLUSH_SECONDS = 0.05
ORDERED_FLUSH_SECONDS = 0.005
# How long an endpoint rests here after the breaker's threshold of failures in a row.
LOCAL_BREAKER_REST = 1.0
DISABLE_TASK = "callbacks.endpoint_disable"
CIRCUIT_TASK = "callbacks.circuit_changed"
ANNOUNCE_TASK = "callbacks.announce"


class Dispatcher:
    def __init__(self, worker: uuid.UUID | None = None) -> None:
        self.worker = worker  # this worker's id, stamped on its claims
        self.loop = uvloop.new_event_loop()
        self.claimer = Claimer(worker, self._start, self.loop)
        self._failing: Counter[int] = Counter()  # failures in a row that trip the breaker
        self._results: queue.Queue[Result | None] = queue.Queue()
        self.sender = AsyncSender(limit=self.claimer.shares.capacity)
        self.listener = Listener(self.claimer.found, functools.partial(channels, self.claimer))
        self._threads = [
            threading.Thread(target=self._run_loop, name="callback-sender", daemon=True),
            threading.Thread(target=self._run_recorder, name="callback-recorder", daemon=True),
        ]
        for thread in [*self._threads, self.claimer.thread]:
            thread.start()
        self.listener.start()

    def accept(self, items: list) -> int:
        """Deliveries handed over by a task (``[id, endpoint id]`` pairs)."""
        return self.claimer.accept(items)

    def set_peers(self, peers: list[uuid.UUID]) -> None:
        """The live delivery workers (which notification channels this worker hears)."""
        self.claimer.peers = peers

    # --- sending -------------------------------------------------------------------------

    def _start(self, jobs: list[Job]) -> None:
        for job in jobs:
            self.loop.create_task(self._send(job))

    async def _send(self, job: Job) -> None:
        claimer = self.claimer
        try:
            if job.not_before is not None:  # the endpoint's rate limit gave it this start
                wait = (job.not_before - timezone.now()).total_seconds()
                if wait > 0:
                    await asyncio.sleep(wait)
            result = await self.sender.send(job)
        except Exception:  # its claim comes back with the lease
            log.exception("sending delivery %s failed unexpectedly", job.delivery_id)
            with claimer.lock:
                claimer.shares.given_back(job.endpoint_id)
                claimer.unrecorded -= 1
                claimer.lock.notify_all()
            return
        with claimer.lock:  # the slot refills now; the recorder writes the result
            seconds = (result.finished_at - result.started_at).total_seconds()
            claimer.shares.given_back(job.endpoint_id, seconds=seconds)
            claimer.answered[job.endpoint_id] += 1
            claimer.resting.pop(job.endpoint_id, None)
            if not job.test and _trips(self._failing, job.endpoint_id, result):
                claimer.resting[job.endpoint_id] = time.monotonic() + LOCAL_BREAKER_REST
        self._results.put(result)
        claimer.wake.set()

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    # --- recording -------------------------------------------------------------------------

    def _run_recorder(self) -> None:
        while True:
            first = self._results.get()
            if first is None:
                connection.close()  # this thread's own connection
                return
            batch, start = [first], time.monotonic()
            deadline = start + (ORDERED_FLUSH_SECONDS if first.job.order_key else FLUSH_SECONDS)
            while len(batch) < FLUSH_SIZE:
                try:
                    item = self._results.get(timeout=max(deadline - time.monotonic(), 0.001))
                except queue.Empty:
                    break
                if item is None:
                    self._results.put(None)
                    break
                batch.append(item)
                if item.job.order_key:
                    deadline = min(deadline, start + ORDERED_FLUSH_SECONDS)
            renew_connection()
            self._follow(self._flush(batch))

    def _flush(self, batch: list[Result]) -> FollowUp:
        claimer = self.claimer
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
            log.exception("recording %d results failed; their claims come back when their "
                          "lease ends", len(batch))
            connection.close()
        finally:
            with claimer.lock:
                claimer.unrecorded -= len(batch)
                claimer.answered.subtract(Counter(result.job.endpoint_id for result in batch))
                claimer.answered += Counter()  # drop the zeros
                claimer.lock.notify_all()
        return FollowUp()

    def _follow(self, follow_up: FollowUp) -> None:
        """Retries, the next of each key and the deliveries of circuits that closed are due
        work here (at their time); the rest goes to tasks."""
        now, claimer = time.time(), self.claimer
        due: dict[int, float] = {}
        for _, endpoint_id, seconds in follow_up.retries:
            due[endpoint_id] = min(due.get(endpoint_id, math.inf), now + seconds)
        for endpoint_id in follow_up.released:
            due[endpoint_id] = now
        if follow_up.ready:
            with claimer.lock:
                claimer.ready.extend(follow_up.ready)
            claimer.wake.set()
        if due:
            domains = claimer.shares.domain_of
            claimer.found({pk: (domains[pk], at) for pk, at in due.items() if pk in domains})
        tasks(follow_up)

    # --- lifecycle -------------------------------------------------------------------------

    def wait_idle(self, timeout: float) -> bool:
        return self.claimer.wait_idle(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        self.listener.stop()
        self.claimer.stop()
        self.claimer.wait_idle(timeout)
        self._results.put(None)
        self._threads[1].join(timeout=5)
        future = asyncio.run_coroutine_threadsafe(self.sender.close(), self.loop)
        try:
            future.result(timeout=5)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._threads[0].join(timeout=5)


def _trips(failing: Counter[int], endpoint_id: int, result: Result) -> bool:
    """Count failures that trip the breaker, seen here before the recorder opens the
    circuit: at the threshold the endpoint rests, so a fast-failing receiver does not
    take a whole backlog's first attempts meanwhile (called under the claimer's lock)."""
    threshold = settings.CALLBACK_BREAKER_FAILURES
    if not threshold or not result.verdict.trips_breaker:
        failing.pop(endpoint_id, None)
        return False
    failing[endpoint_id] += 1
    if failing[endpoint_id] < threshold:
        return False
    failing.pop(endpoint_id, None)
    return True


def tasks(follow_up: FollowUp) -> None:
    """Hand endpoints to disable to their task, circuits that opened or closed to theirs
    (the admins' e-mail) and failing episodes that began or ended to the announcer."""
    if follow_up.disable:
        enqueue(DISABLE_TASK, [[pk, reason] for pk, reason in follow_up.disable.items()])
    if follow_up.circuits:
        enqueue(CIRCUIT_TASK, [[pk, state] for pk, state in follow_up.circuits.items()])
    if follow_up.announce:  # the sweep announces what a lost message leaves unsaid
        enqueue(ANNOUNCE_TASK, sorted(follow_up.announce))


_dispatcher: Dispatcher | None = None
_worker: uuid.UUID | None = None
_lock = threading.Lock()


def get_dispatcher(worker: uuid.UUID | None = None) -> Dispatcher:
    """Return this process's dispatcher, starting it on first use (after any fork) for
    ``worker`` (this process's worker id, given once when the worker starts)."""
    global _dispatcher, _worker
    with _lock:
        _worker = worker or _worker
        if _dispatcher is None:
            _dispatcher = Dispatcher(_worker)
        return _dispatcher


def running_dispatcher() -> Dispatcher | None:
    """This process's dispatcher if one runs (never starts one)."""
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
    tasks(record([result]))
    return result
