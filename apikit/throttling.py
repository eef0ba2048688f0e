"""DRF throttles counted atomically in the shared cache, rates read from settings at
request time (tests can change them).

Every throttle counts a sliding window with ``domains.cache.window_hit``: on Redis
one count for every web process (production refuses to start with a throttle on
and no shared cache), in one process's memory in embedded mode. A cache outage
lets requests through (logged once per interval); it never fails them.
"""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

from domains.cache import window_hit

PERIODS = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}


def refusal(wait: float, limit: int, duration: int, what: str, setting: str) -> Throttled:
    """The 429 (with Retry-After) naming the limit that tripped and its setting."""
    return Throttled(wait=wait, detail=(
        f"Too many {what}: at most {limit} per {PERIODS.get(duration, f'{duration} s')} "
        f"({setting}). Retry in {max(1, math.ceil(wait))} s."))


class CountedThrottle(SimpleRateThrottle):
    """A SimpleRateThrottle whose count is one atomic step in the cache; a refusal names
    the limit (``what`` per period) and the setting that sets it."""

    scope: str
    what = "requests"
    # SimpleRateThrottle.__init__ sets them from the rate (the stubs leave them out); read
    # only when there is a rate, so never None here.
    num_requests: int
    duration: int

    def get_rate(self) -> str | None:
        return settings.API_THROTTLE_RATES.get(self.scope) or None

    def allow_request(self, request: Request, view: Any) -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        allowed, wait = window_hit(key, self.num_requests, self.duration)
        if not allowed:
            raise refusal(wait, self.num_requests, self.duration, self.what,
                          f"API_THROTTLE_{self.scope.upper()}")
        return True

    def wait(self) -> float | None:
        return None  # a refusal is raised by allow_request, with its own wait


class UserThrottle(CountedThrottle, UserRateThrottle):
    """Per signed-in user or token holder."""

    scope = "user"


class AnonThrottle(CountedThrottle, AnonRateThrottle):
    """Per client address, for requests without credentials."""

    scope = "anon"


def charge(scope: str, ident: Any, count: int, what: str) -> None:
    """Count ``count`` items (a Box's reports, a gateway's events) against the ``scope``
    rate for ``ident``, beside the per-request throttle; 429 when they would exceed it."""
    rate = settings.API_THROTTLE_RATES.get(scope)
    if not rate:
        return
    number, period = rate.split("/")
    limit, duration = int(number), {"s": 1, "m": 60, "h": 3600, "d": 86400}[period[0]]
    allowed, wait = window_hit(f"throttle_{scope}_{ident}", limit, duration, weight=count)
    if not allowed:
        raise refusal(wait, limit, duration, what, f"API_THROTTLE_{scope.upper()}")
