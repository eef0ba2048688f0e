"""The per-process sender: learn where work is due, claim fair shares, send, record;
each in its own thread so none waits for another.

- The *listener* (callbacks.delivery.outbox) hears the outbox's notifications and
  scans for due work every ``CALLBACK_SCAN_INTERVAL`` seconds.
- The *claimer* plans how many to take for each endpoint with due work
  (callbacks.delivery.shares: fair between domains, then endpoints) and claims them with
  one statement. A slot freed when a request finishes wakes it at once.
- The *sender* loop (asyncio + aiohttp) sends concurrently, no transaction open.
- The *recorder* writes results in bulk, then acts on what ``record`` says must
  follow: retries become due work here, at their time; endpoints to disable and
  circuits that changed are handed to tasks.

Nothing here is the only copy of anything: the rows stay ``pending`` until claimed, and
a claim of a worker that stops comes back with its heartbeat (callbacks.delivery.workers).
"""

from __future__ import annotations

import asyncio
import logging
import math
import queue
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable

import uvloop
from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from callbacks.delivery import workers
from callbacks.delivery.claims import claim, claim_due
from callbacks.delivery.outbox import CHANNELS, Listener, domains_of, enqueue
from callbacks.delivery.policy import Job, Result
from callbacks.delivery.recording import FollowUp, record
from callbacks.delivery.shares import Shares
from callbacks.delivery.transport import AsyncSender, send_one

log = logging.getLogger(__name__)
FLUSH_SIZE = 500
# Results are written every 50 ms (or 500 results): receipts do not wait for it, and
# larger batches take fewer statements per delivery.
FLUSH_SECONDS = 0.05
# How long an endpoint rests here after the breaker's threshold of failures in a row.
LOCAL_BREAKER_REST = 1.0
# Seconds a claimer's or recorder's connection lives: plans prepared on it (generic, made
# once) are made again on the next, as the tables grow.
CONNECTION_SECONDS = 60.0
# How long an endpoint its limits held back (the cap across workers, its rate) waits before
# this worker asks again (sooner when one of its requests here ends).
LIMIT_REST = 0.05
DISABLE_TASK = "callbacks.endpoint_disable"
CIRCUIT_TASK = "callbacks.circuit_changed"


class Dispatcher:
    def __init__(self, worker: uuid.UUID | None = None) -> None:
        self.worker = worker  # this worker's id, stamped on its claims
        self.shares = Shares(settings.CALLBACK_PROCESS_INFLIGHT,
                             settings.CALLBACK_ENDPOINT_INFLIGHT)
        self._peers: list[uuid.UUID] = []  # the live delivery workers, in one order
        self._lock = threading.Condition()
        # endpoint -> (domain, when work is due there (epoch seconds), news count)
        self._wanted: dict[int, tuple[int, float, int]] = {}
        self._resting: dict[int, float] = {}  # endpoint -> monotonic time it may claim again
        self._failing: Counter[int] = Counter()  # failures in a row that trip the breaker
        self._unrecorded = 0  # claimed and not yet recorded
        self._answered: Counter[int] = Counter()  # per endpoint: answered, not yet recorded
        self._ready: list[list] = []  # [id, endpoint] now first of their key: claim at once
        self._stopping = False
        self._wake = threading.Event()
        self._results: queue.Queue[Result | None] = queue.Queue()
        self.loop = uvloop.new_event_loop()
        self.sender = AsyncSender(limit=self.shares.capacity)
        self.listener = Listener(self.found, self.channels)
        self._threads = [
            threading.Thread(target=self._run_loop, name="callback-sender", daemon=True),
            threading.Thread(target=self._run_recorder, name="callback-recorder", daemon=True),
            threading.Thread(target=self._run_claimer, name="callback-claimer", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        self.listener.start()

    # --- where work is due ------------------------------------------------------------

    def found(self, found: dict[int, tuple[int, object]]) -> None:
        """Note endpoints with work due at a time (a datetime, or epoch seconds)."""
        with self._lock:
            for endpoint, (domain, due) in found.items():
                at = due if isinstance(due, float) else due.timestamp()  # type: ignore[attr-defined]
                _, known, news = self._wanted.get(endpoint, (domain, math.inf, 0))
                self._wanted[endpoint] = (domain, min(known, at), news + 1)
        self._wake.set()

    def channels(self) -> range:
        """The notification channels this worker listens to: its share among the live
        delivery workers (all of them until it is one). An endpoint's notifications wake
        one worker; the others find its work in their next scan if it is still due then."""
        peers = self._peers
        if self.worker is None or self.worker not in peers:
            return range(CHANNELS)
        return range(peers.index(self.worker), CHANNELS, len(peers))

    def accept(self, items: Iterable[str | list]) -> int:
        """Deliveries handed over by a task (``[id, endpoint id]`` pairs): their endpoints
        have due work."""
        endpoints = {int(item[1]) for item in items if not isinstance(item, str)}
        if endpoints:
            now = time.time()
            self.found({pk: (domain, now) for pk, domain in domains_of(
                sorted(endpoints)).items()})
        return len(endpoints)

    # --- claiming ------------------------------------------------------------------------

    def _run_claimer(self) -> None:
        refreshed = 0.0
        while not self._stopping:
            self._wake.wait(timeout=self._next_wait())
            self._wake.clear()
            if self._stopping:
                break
            try:
                if time.monotonic() - refreshed > 2:
                    self._refresh_peers()
                    refreshed = time.monotonic()
                renew_connection()
                while self._claim_some():
                    pass
            except Exception:
                log.exception("claiming deliveries failed; trying again")
                connection.close()
                time.sleep(0.5)
        connection.close()

    def _refresh_peers(self) -> None:
        """The live delivery workers: who answers for which endpoint's notifications."""
        peers = workers.peers()
        with self._lock:
            self._peers = peers

    def _next_wait(self) -> float:
        with self._lock:
            now, mono = time.time(), time.monotonic()
            soonest = min((at - now for _, at, _ in self._wanted.values()), default=0.5)
            rest = min((until - mono for until in self._resting.values()), default=0.5)
        return min(0.5, max(0.001, min(soonest, rest)))

    def _claim_ready(self) -> int:
        """Claim the deliveries the recorder found first of their key, by id."""
        with self._lock:
            ready, self._ready = self._ready, []
            for _, endpoint in ready:
                self.shares.taken(endpoint, self.shares.domain_of.get(endpoint, 0))
            self._unrecorded += len(ready)
        if not ready:
            return 0
        jobs: list[Job] = []
        try:
            jobs = claim([pk for pk, _ in ready], len(ready), self.worker)
        finally:
            with self._lock:
                claimed = Counter(job.endpoint_id for job in jobs)
                for endpoint, count in (Counter(e for _, e in ready) - claimed).items():
                    self.shares.given_back(endpoint, count)
                    self._unrecorded -= count
        if jobs:
            self.loop.call_soon_threadsafe(self._start, jobs)
        return len(jobs)

    def _claim_some(self) -> int:
        """Claim one round of fair shares and start sending them; return how many."""
        self._claim_ready()
        now, mono = time.time(), time.monotonic()
        with self._lock:
            for endpoint, until in list(self._resting.items()):
                if until <= mono:
                    del self._resting[endpoint]
            due = {pk: (domain, news) for pk, (domain, at, news) in self._wanted.items()
                   if at <= now and pk not in self._resting}
            plan = self.shares.plan({pk: domain for pk, (domain, _) in due.items()},
                                    settings.CALLBACK_BATCH_SIZE)
            for endpoint, count in plan.items():
                self.shares.taken(endpoint, due[endpoint][0], count)
            self._unrecorded += sum(plan.values())
        if not plan:
            return 0
        with self._lock:
            answered = {pk: self._answered[pk] for pk in plan if self._answered[pk]}
        try:
            jobs, held = claim_due(plan, self.worker, answered)
        except Exception:
            self._unclaimed(plan, due, Counter(), set())
            raise
        self._unclaimed(plan, due, Counter(job.endpoint_id for job in jobs), held)
        if jobs:
            self.loop.call_soon_threadsafe(self._start, jobs)
        return len(jobs)

    def _unclaimed(self, plan: dict[int, int], due: dict[int, tuple[int, int]],
                   claimed: Counter[int], held: set[int]) -> None:
        """Give back the slots of what was planned and not claimed. An endpoint its limits
        held back (the in-flight cap across workers, its rate) rests a moment; one that
        gave fewer than asked otherwise has nothing more due now (unless news came)."""
        with self._lock:
            for endpoint, count in plan.items():
                short = count - claimed[endpoint]
                if not short:
                    continue
                _, news = due[endpoint]
                self.shares.given_back(endpoint, short)
                self._unrecorded -= short
                if endpoint in held:
                    self._resting[endpoint] = time.monotonic() + LIMIT_REST
                elif self._wanted.get(endpoint, (0, 0, news))[2] == news:
                    self._wanted.pop(endpoint, None)
            self._lock.notify_all()

    # --- sending -------------------------------------------------------------------------

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
        except Exception:  # its claim comes back with the lease
            log.exception("sending delivery %s failed unexpectedly", job.delivery_id)
            with self._lock:
                self.shares.given_back(job.endpoint_id)
                self._unrecorded -= 1
                self._lock.notify_all()
            return
        with self._lock:  # the slot refills now; the recorder writes the result
            seconds = (result.finished_at - result.started_at).total_seconds()
            self.shares.given_back(job.endpoint_id, seconds=seconds)
            self._answered[job.endpoint_id] += 1
            self._resting.pop(job.endpoint_id, None)
            if not job.test:
                self._watch_breaker(job.endpoint_id, result)
        self._results.put(result)
        self._wake.set()

    def _watch_breaker(self, endpoint_id: int, result: Result) -> None:
        """Count failures that trip the breaker, seen here before the recorder opens the
        circuit: at the threshold the endpoint rests, so a fast-failing receiver does not
        take a whole backlog's first attempts meanwhile (called under the lock)."""
        threshold = settings.CALLBACK_BREAKER_FAILURES
        if not threshold:
            return
        if not result.verdict.trips_breaker:
            self._failing.pop(endpoint_id, None)
            return
        self._failing[endpoint_id] += 1
        if self._failing[endpoint_id] >= threshold:
            self._failing.pop(endpoint_id, None)
            self._resting[endpoint_id] = time.monotonic() + LOCAL_BREAKER_REST

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
            renew_connection()
            self._follow(self._flush(batch))

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
            log.exception("recording %d results failed; their claims come back when their "
                          "lease ends", len(batch))
            connection.close()
        finally:
            with self._lock:
                self._unrecorded -= len(batch)
                self._answered.subtract(Counter(result.job.endpoint_id for result in batch))
                self._answered += Counter()  # drop the zeros
                self._lock.notify_all()
        return FollowUp()

    def _follow(self, follow_up: FollowUp) -> None:
        """Retries, the next of each key and the deliveries of circuits that closed are due
        work here (at their time); the rest goes to tasks."""
        now = time.time()
        due: dict[int, float] = {}
        for _, endpoint_id, seconds in follow_up.retries:
            due[endpoint_id] = min(due.get(endpoint_id, math.inf), now + seconds)
        for endpoint_id in follow_up.keys:
            due[endpoint_id] = now
        if follow_up.ready:
            with self._lock:
                self._ready.extend(follow_up.ready)
            self._wake.set()
        if due:
            self.found({pk: (self.shares.domain_of[pk], at) for pk, at in due.items()
                        if pk in self.shares.domain_of})
        tasks(follow_up)

    # --- lifecycle -------------------------------------------------------------------------

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
        self.listener.stop()
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


_opened = threading.local()


def renew_connection() -> None:
    """Close this thread's connection once it is CONNECTION_SECONDS old (the next statement
    opens another, and prepares its plans again)."""
    now = time.monotonic()
    since = getattr(_opened, "at", None)
    if since is None:
        _opened.at = now
    elif now - since > CONNECTION_SECONDS:
        connection.close()
        _opened.at = now


def tasks(follow_up: FollowUp) -> None:
    """Hand endpoints to disable to their task and circuits that opened or closed to
    theirs (the admins' e-mail)."""
    if follow_up.disable:
        enqueue(DISABLE_TASK, [[pk, reason] for pk, reason in follow_up.disable.items()])
    if follow_up.circuits:
        enqueue(CIRCUIT_TASK, [[pk, state] for pk, state in follow_up.circuits.items()])


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
