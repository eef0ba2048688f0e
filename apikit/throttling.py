"""DRF throttles counted atomically in the shared cache, rates read from settings at
request time (tests can change them).

Every throttle counts a sliding window with ``domains.cache.window_hit``: on Redis
one count for every web process (production refuses to start with a throttle on
and no shared cache), in one process's memory in embedded mode. A cache outage
lets requests through (logged once per interval); it never fails them.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

from domains.cache import window_hit


class CountedThrottle(SimpleRateThrottle):
    """A SimpleRateThrottle whose count is one atomic step in the cache."""

    scope: str
    # SimpleRateThrottle.__init__ sets them from the rate (the stubs leave them out); read
    # only when there is a rate, so never None here.
    num_requests: int
    duration: int
    _wait = 0.0

    def get_rate(self) -> str | None:
        return settings.API_THROTTLE_RATES.get(self.scope) or None

    def allow_request(self, request: Request, view: Any) -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        allowed, self._wait = window_hit(key, self.num_requests, self.duration)
        return allowed

    def wait(self) -> float | None:
        return self._wait or None


class UserThrottle(CountedThrottle, UserRateThrottle):
    """Per signed-in user or token holder."""

    scope = "user"


class AnonThrottle(CountedThrottle, AnonRateThrottle):
    """Per client address, for requests without credentials."""

    scope = "anon"
