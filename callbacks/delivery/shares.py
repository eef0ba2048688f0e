"""Fair shares, and the claimer that takes them.

A delivery worker has ``CALLBACK_PROCESS_INFLIGHT`` slots. Under contention they are
shared equally between the domains that have due work or requests in flight, and within
a domain equally between its endpoints with due work; one share is always kept free for
a domain that has none yet, so a newcomer never waits for a slow tenant's requests to
end. Shares are work-conserving otherwise: what a domain does not use, the others may.

An endpoint also never has more than ``CALLBACK_ENDPOINT_INFLIGHT`` in flight across
every delivery worker (claims.py counts them), and slow answers shrink its slots here: an
endpoint answering in ``s`` seconds (a moving average, above one second) keeps 1/s of
them, so a slow endpoint does not hold what a fast one of the same domain could use.

The ``Claimer`` is a delivery worker's claiming thread: it keeps which endpoints have
work due when (from the listener's notifications and scans, and from the recorder),
plans fair shares over those due now, claims them (callbacks.delivery.claims) and hands
the jobs to the sender loop. A slot freed when a request finishes wakes it at once.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable

from django.conf import settings
from django.db import connection

from callbacks.delivery.claims import claim, claim_due
from callbacks.delivery.outbox import CHANNELS, domains_of, renew_connection
from callbacks.delivery.policy import Job

log = logging.getLogger(__name__)

SLOW_SECONDS = 1.0  # answers slower than this shrink an endpoint's slots
SMOOTHING = 0.2  # weight of the newest answer in the moving average
# How long an endpoint its limits held back (the cap across workers, its rate) waits before
# this worker asks again (sooner when one of its requests here ends).
LIMIT_REST = 0.05
# Claims are at least this far apart: at one event per transaction a claim then takes what
# a few notifications announced, not one delivery each (a few ms on the latency, under
# load only, for fewer statements per delivery).
CLAIM_GAP = 0.005


class Shares:
    """The slots in flight per domain and endpoint, and each endpoint's answer time."""

    def __init__(self, capacity: int, endpoint_cap: int) -> None:
        self.capacity, self.endpoint_cap = capacity, endpoint_cap
        self.endpoints: Counter[int] = Counter()
        self.domains: Counter[int] = Counter()
        self.domain_of: dict[int, int] = {}  # endpoint -> domain, once seen
        self.seconds: dict[int, float] = {}  # endpoint -> moving average of answer times

    def taken(self, endpoint: int, domain: int, count: int = 1) -> None:
        self.domain_of[endpoint] = domain
        self.endpoints[endpoint] += count
        self.domains[domain] += count

    def given_back(self, endpoint: int, count: int = 1, seconds: float | None = None) -> None:
        domain = self.domain_of[endpoint]
        self.endpoints[endpoint] -= count
        self.domains[domain] -= count
        if self.endpoints[endpoint] <= 0:
            del self.endpoints[endpoint]
        if self.domains[domain] <= 0:
            del self.domains[domain]
        if seconds is not None:
            last = self.seconds.get(endpoint, seconds)
            self.seconds[endpoint] = last + SMOOTHING * (seconds - last)

    def endpoint_slots(self, endpoint: int, domain_cap: int, siblings: int) -> int:
        """How many of the domain's slots ``endpoint`` may hold, of ``siblings`` wanting."""
        cap = min(self.endpoint_cap, math.ceil(domain_cap / max(siblings, 1)))
        seconds = self.seconds.get(endpoint, 0.0)
        if seconds > SLOW_SECONDS:
            cap = max(1, math.floor(cap / seconds))
        return cap

    def plan(self, wanted: dict[int, int], limit: int) -> dict[int, int]:
        """How many to claim now for each endpoint of ``wanted`` (endpoint -> domain), at
        most ``limit`` in all: equal parts between domains, then their endpoints, what one
        cannot use going to the others."""
        free = min(limit, self.capacity - sum(self.endpoints.values()))
        if free <= 0 or not wanted:
            return {}
        by_domain: dict[int, list[int]] = {}
        for endpoint, domain in wanted.items():
            by_domain.setdefault(domain, []).append(endpoint)
        domain_cap = _share(self.capacity, len(set(by_domain) | set(self.domains)))
        room: dict[int, dict[int, int]] = {}
        demand: dict[int, int] = {}
        for domain, endpoints in by_domain.items():
            left = max(0, domain_cap - self.domains[domain])
            room[domain] = {e: max(0, min(self.endpoint_slots(e, domain_cap, len(endpoints))
                                          - self.endpoints[e], left)) for e in endpoints}
            demand[domain] = min(sum(room[domain].values()), left)
        parts = _fair(demand, free)
        plan: dict[int, int] = {}
        for domain, part in parts.items():
            plan.update(_fair(room[domain], part))
        return {endpoint: count for endpoint, count in plan.items() if count}


def _share(total: int, sharing: int) -> int:
    """Each of ``sharing`` parties' part of ``total``, one part kept for a newcomer."""
    return max(1, total // (sharing + 1)) if sharing else total


def _fair(demands: dict[int, int], total: int) -> dict[int, int]:
    """Split ``total`` between ``demands`` max-min fairly: equal parts, and what a party
    cannot use (it wants less) shared by the others."""
    given, left = {}, total
    ordered = sorted(demands.items(), key=lambda item: item[1])
    for done, (party, demand) in enumerate(ordered):
        given[party] = min(demand, left // (len(ordered) - done))
        left -= given[party]
    return given


class Claimer:
    """A delivery worker's claiming thread and the bookkeeping the sender and recorder
    share with it (under ``lock``): slots taken, requests answered and not yet recorded."""

    def __init__(self, worker: uuid.UUID | None, start: Callable[[list[Job]], object],
                 loop: asyncio.AbstractEventLoop) -> None:
        self.worker, self.start, self.loop = worker, start, loop
        self.shares = Shares(settings.CALLBACK_PROCESS_INFLIGHT,
                             settings.CALLBACK_ENDPOINT_INFLIGHT)
        self.lock = threading.Condition()
        # The live delivery workers, in one order (their heartbeat thread sets it each beat).
        self.peers: list[uuid.UUID] = []
        # endpoint -> (domain, when work is due there (epoch seconds), news count)
        self.wanted: dict[int, tuple[int, float, int]] = {}
        self.resting: dict[int, float] = {}  # endpoint -> monotonic time it may claim again
        self.unrecorded = 0  # claimed and not yet recorded
        self.answered: Counter[int] = Counter()  # per endpoint: answered, not yet recorded
        self.ready: list[list] = []  # [id, endpoint] now first of their key: claim at once
        self.stopping = False
        self.wake = threading.Event()
        self.thread = threading.Thread(target=self.run, name="callback-claimer", daemon=True)

    def found(self, found: dict[int, tuple[int, object]]) -> None:
        """Note endpoints with work due at a time (a datetime, or epoch seconds)."""
        with self.lock:
            for endpoint, (domain, due) in found.items():
                at = due if isinstance(due, float) else due.timestamp()  # type: ignore[attr-defined]
                _, known, news = self.wanted.get(endpoint, (domain, math.inf, 0))
                self.wanted[endpoint] = (domain, min(known, at), news + 1)
        self.wake.set()

    def accept(self, items: Iterable[str | list]) -> int:
        """Deliveries handed over (``[id, endpoint id]`` pairs): their endpoints have work."""
        endpoints = {int(item[1]) for item in items if not isinstance(item, str)}
        if endpoints:
            now = time.time()
            self.found({pk: (domain, now) for pk, domain in domains_of(
                sorted(endpoints)).items()})
        return len(endpoints)

    def run(self) -> None:
        claimed_at = 0.0
        while not self.stopping:
            self.wake.wait(timeout=self._next_wait())
            gap = claimed_at + CLAIM_GAP - time.monotonic()
            if gap > 0:
                time.sleep(gap)  # pacing: what else is announced meanwhile joins this claim
            self.wake.clear()
            if self.stopping:
                break
            try:
                renew_connection()
                claimed_at = time.monotonic()
                while self._claim_ready() + self._claim_some():
                    claimed_at = time.monotonic()
            except Exception:
                log.exception("claiming deliveries failed; trying again")
                connection.close()
                time.sleep(0.5)
        connection.close()

    def _next_wait(self) -> float:
        with self.lock:
            now, mono = time.time(), time.monotonic()
            soonest = min((at - now for _, at, _ in self.wanted.values()), default=0.5)
            rest = min((until - mono for until in self.resting.values()), default=0.5)
        return min(0.5, max(0.001, min(soonest, rest)))

    def _claim_ready(self) -> int:
        """Claim the deliveries the recorder found first of their key, by id."""
        with self.lock:
            ready, self.ready = self.ready, []
            for _, endpoint in ready:
                self.shares.taken(endpoint, self.shares.domain_of.get(endpoint, 0))
            self.unrecorded += len(ready)
        jobs: list[Job] = []
        try:
            if ready:
                jobs = claim([pk for pk, _ in ready], len(ready), self.worker)
        finally:
            with self.lock:
                claimed = Counter(job.endpoint_id for job in jobs)
                for endpoint, count in (Counter(e for _, e in ready) - claimed).items():
                    self.shares.given_back(endpoint, count)
                    self.unrecorded -= count
        return self._started(jobs)

    def _claim_some(self) -> int:
        """Claim one round of fair shares and start sending them; return how many."""
        now, mono = time.time(), time.monotonic()
        with self.lock:
            for endpoint, until in list(self.resting.items()):
                if until <= mono:
                    del self.resting[endpoint]
            due = {pk: (domain, news) for pk, (domain, at, news) in self.wanted.items()
                   if at <= now and pk not in self.resting}
            plan = self.shares.plan({pk: domain for pk, (domain, _) in due.items()},
                                    settings.CALLBACK_BATCH_SIZE)
            for endpoint, count in plan.items():
                self.shares.taken(endpoint, due[endpoint][0], count)
            self.unrecorded += sum(plan.values())
            answered = {pk: self.answered[pk] for pk in plan if self.answered[pk]}
        if not plan:
            return 0
        jobs: list[Job] = []
        held: set[int] = set()
        try:
            jobs, held = claim_due(plan, self.worker, answered)
        finally:
            self._unclaimed(plan, due, Counter(job.endpoint_id for job in jobs), held)
        return self._started(jobs)

    def _started(self, jobs: list[Job]) -> int:
        if jobs:
            self.loop.call_soon_threadsafe(self.start, jobs)
        return len(jobs)

    def _unclaimed(self, plan: dict[int, int], due: dict[int, tuple[int, int]],
                   claimed: Counter[int], held: set[int]) -> None:
        """Give back the slots of what was planned and not claimed. An endpoint its limits
        held back (the in-flight cap across workers, its rate) rests a moment; one that
        gave fewer than asked otherwise has nothing more due now (unless news came)."""
        with self.lock:
            for endpoint, count in plan.items():
                short = count - claimed[endpoint]
                if not short:
                    continue
                self.shares.given_back(endpoint, short)
                self.unrecorded -= short
                if endpoint in held:
                    self.resting[endpoint] = time.monotonic() + LIMIT_REST
                elif self.wanted.get(endpoint, (0, 0, due[endpoint][1]))[2] == due[endpoint][1]:
                    self.wanted.pop(endpoint, None)
            self.lock.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every claimed job is sent and recorded."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while self.unrecorded > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.lock.wait(remaining)
        return True

    def stop(self) -> None:
        self.stopping = True
        self.wake.set()
        self.thread.join(timeout=10)


def channels(claimer: Claimer) -> range:
    """The notification channels ``claimer``'s worker listens to: its share among the live
    delivery workers (all of them until it is one). An endpoint's notifications wake one
    worker; the others find its work in their next scan if it is still due then."""
    peers = claimer.peers
    if claimer.worker is None or claimer.worker not in peers:
        return range(CHANNELS)
    return range(peers.index(claimer.worker), CHANNELS, len(peers))
