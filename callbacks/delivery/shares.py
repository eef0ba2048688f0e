"""Fair shares: how many deliveries a worker claims for each endpoint, now.

A delivery worker has ``CALLBACK_PROCESS_INFLIGHT`` slots. Under contention they are
shared equally between the domains that have due work or requests in flight, and within
a domain equally between its endpoints with due work; one share is always kept free for
a domain that has none yet, so a newcomer never waits for a slow tenant's requests to
end. Shares are work-conserving otherwise: what a domain does not use, the others may.

An endpoint also never has more than its part of ``CALLBACK_ENDPOINT_INFLIGHT`` (the cap
across every delivery worker, divided by the live ones) in flight here, and slow answers
shrink its slots: an endpoint answering in ``s`` seconds (a moving average, above one
second) keeps 1/s of them, so a slow endpoint does not hold what a fast one of the same
domain could use.
"""

from __future__ import annotations

import math
from collections import Counter

SLOW_SECONDS = 1.0  # answers slower than this shrink an endpoint's slots
SMOOTHING = 0.2  # weight of the newest answer in the moving average


class Shares:
    """The slots in flight per domain and endpoint, and each endpoint's answer time."""

    def __init__(self, capacity: int, endpoint_cap: int) -> None:
        self.capacity, self.endpoint_cap = capacity, endpoint_cap
        self.endpoints: Counter[int] = Counter()
        self.domains: Counter[int] = Counter()
        self.domain_of: dict[int, int] = {}  # endpoint -> domain, once seen
        self.seconds: dict[int, float] = {}  # endpoint -> moving average of answer times

    @property
    def busy(self) -> int:
        return sum(self.endpoints.values())

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
        most ``limit`` in all: round-robin over domains, then their endpoints."""
        free = min(limit, self.capacity - self.busy)
        if free <= 0 or not wanted:
            return {}
        by_domain: dict[int, list[int]] = {}
        for endpoint, domain in wanted.items():
            by_domain.setdefault(domain, []).append(endpoint)
        domain_cap = _share(self.capacity, len(set(by_domain) | set(self.domains)))
        room: dict[int, int] = {}
        for domain, endpoints in by_domain.items():
            left = domain_cap - self.domains[domain]
            for endpoint in endpoints:
                slots = self.endpoint_slots(endpoint, domain_cap, len(endpoints))
                room[endpoint] = max(0, min(slots - self.endpoints[endpoint], left))
        return _round_robin(by_domain, room, free)


def _share(total: int, sharing: int) -> int:
    """Each of ``sharing`` parties' part of ``total``, one part kept for a newcomer."""
    return max(1, total // (sharing + 1)) if sharing else total


def _round_robin(groups: dict[int, list[int]], room: dict[int, int], free: int) -> dict[int, int]:
    """Hand out ``free`` slots one at a time, domain by domain, endpoint by endpoint."""
    plan: Counter[int] = Counter()
    queues = [list(members) for members in groups.values()]
    while free > 0 and queues:
        for members in list(queues):
            endpoint = next((e for e in members if plan[e] < room[e]), None)
            if endpoint is None:
                queues.remove(members)
                continue
            plan[endpoint] += 1
            members.append(members.pop(members.index(endpoint)))  # its siblings next
            free -= 1
            if free == 0:
                break
    return dict(plan)

