"""The cache, failing open: an outage of the cache server never fails a request.

``FailOpenRedisCache`` is Django's Redis cache whose every operation answers as a
miss when Redis cannot be reached (``get`` gives the default, ``add`` and ``set``
report success, ``incr`` raises as for a missing key), logs the outage once per
interval, and skips the server for a few seconds after an error so requests do
not each wait for a dead connection. ``window_hit`` counts requests in a sliding
window atomically: a Lua script on Redis (one count for every web process), a
lock per process on any other cache (embedded mode).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

try:  # redis is installed with the project; the guard keeps the floor importable alone
    from redis.exceptions import RedisError
except ImportError:  # pragma: no cover
    RedisError = OSError  # type: ignore[misc,assignment]

log = logging.getLogger(__name__)

# Errors that mean "the cache server is not there", not a bug of ours.
UNAVAILABLE: tuple[type[BaseException], ...] = (RedisError, OSError)
LOG_INTERVAL = 60.0  # seconds between two log lines about the same outage
SKIP_SECONDS = 2.0  # after an error, answer as a miss without trying the server

T = TypeVar("T")


class _Outage:
    """When the cache last failed and when that was last logged (per process)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.failed_at = float("-inf")
        self.logged_at = float("-inf")
        self.suppressed = 0

    def skipping(self) -> bool:
        return time.monotonic() - self.failed_at < SKIP_SECONDS

    def failed(self, exc: BaseException, what: str) -> None:
        now = time.monotonic()
        with self.lock:
            self.failed_at = now
            if now - self.logged_at < LOG_INTERVAL:
                self.suppressed += 1
                return
            suppressed, self.suppressed, self.logged_at = self.suppressed, 0, now
        log.warning(
            "cache unavailable (%s: %s); %s fails open (throttles let requests through, "
            "cache reads miss)%s",
            type(exc).__name__,
            exc,
            what,
            f"; {suppressed} more errors since the last line" if suppressed else "",
        )


outage = _Outage()


def fail_open(what: str, call: Callable[[], T], fallback: T) -> T:
    """Run ``call``; on a cache outage log (once per interval) and return ``fallback``."""
    if outage.skipping():
        return fallback
    try:
        return call()
    except UNAVAILABLE as exc:
        outage.failed(exc, what)
        return fallback


class FailOpenRedisCache(RedisCache):
    """Django's Redis cache, answering as a miss while Redis is unreachable."""

    def add(self, key: Any, value: Any, timeout: Any = None, version: Any = None) -> bool:
        return fail_open(
            "cache.add",
            lambda: super(FailOpenRedisCache, self).add(key, value, timeout, version),
            True,
        )

    def get(self, key: Any, default: Any = None, version: Any = None) -> Any:
        return fail_open(
            "cache.get", lambda: super(FailOpenRedisCache, self).get(key, default, version), default
        )

    def set(self, key: Any, value: Any, timeout: Any = None, version: Any = None) -> None:
        fail_open(
            "cache.set",
            lambda: super(FailOpenRedisCache, self).set(key, value, timeout, version),
            None,
        )

    def touch(self, key: Any, timeout: Any = None, version: Any = None) -> bool:
        return fail_open(
            "cache.touch",
            lambda: super(FailOpenRedisCache, self).touch(key, timeout, version),
            False,
        )

    def delete(self, key: Any, version: Any = None) -> bool:
        return fail_open(
            "cache.delete", lambda: super(FailOpenRedisCache, self).delete(key, version), False
        )

    def get_many(self, keys: Any, version: Any = None) -> dict:
        return fail_open(
            "cache.get_many", lambda: super(FailOpenRedisCache, self).get_many(keys, version), {}
        )

    def has_key(self, key: Any, version: Any = None) -> bool:
        return fail_open(
            "cache.has_key", lambda: super(FailOpenRedisCache, self).has_key(key, version), False
        )

    def incr(self, key: Any, delta: int = 1, version: Any = None) -> int:
        missing = object()
        value = fail_open(
            "cache.incr", lambda: super(FailOpenRedisCache, self).incr(key, delta, version), missing
        )
        if value is missing:
            raise ValueError(f"Key {key!r} not found (the cache is unavailable).")
        return value  # type: ignore[return-value]

    def set_many(self, data: dict, timeout: Any = None, version: Any = None) -> list:
        return fail_open(
            "cache.set_many",
            lambda: super(FailOpenRedisCache, self).set_many(data, timeout, version),
            [],
        )

    def delete_many(self, keys: Any, version: Any = None) -> None:
        fail_open(
            "cache.delete_many",
            lambda: super(FailOpenRedisCache, self).delete_many(keys, version),
            None,
        )

    def clear(self) -> None:
        fail_open("cache.clear", lambda: super(FailOpenRedisCache, self).clear(), None)


# KEYS[1]: the window's sorted set. ARGV: window (s), limit, a unique member.
# Times come from the Redis server, so every web process shares one clock.
# A sliding window of weighted hits: each member is "<random>:<weight>" scored by its time.
# A hit of weight w is allowed while the weights in the window plus w stay within the
# limit; otherwise the wait is until enough of the oldest weight has left the window.
_SLIDING_WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local weight = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local hits = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local used = 0
for i = 1, #hits, 2 do
  used = used + (tonumber(string.match(hits[i], ':(%d+)$')) or 1)
end
if used + weight <= limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3] .. ':' .. weight)
  redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
  return {1, '0'}
end
if weight > limit then
  return {0, tostring(window)}
end
for i = 1, #hits, 2 do
  used = used - (tonumber(string.match(hits[i], ':(%d+)$')) or 1)
  if used + weight <= limit then
    return {0, tostring(tonumber(hits[i + 1]) + window - now)}
  end
end
return {0, tostring(window)}
"""

_local_lock = threading.Lock()


def window_hit(key: str, limit: int, window: float, backend: Any = None,
               weight: int = 1) -> tuple[bool, float]:
    """Count a hit of ``weight`` (a request: 1; a batch: its items) under ``key``:
    (allowed, seconds until it would be).

    At most ``limit`` in weight is allowed in any ``window`` seconds. Fails open: a
    cache outage allows the hit (logged once per interval).
    """
    backend = backend or caches["default"]  # the backend itself: the proxy is no RedisCache
    if isinstance(backend, RedisCache):
        return fail_open(
            "the throttle", lambda: _redis_hit(backend, key, limit, window, weight), (True, 0.0)
        )
    return _local_hit(backend, key, limit, window, weight)


def _redis_hit(backend: RedisCache, key: str, limit: int, window: float,
               weight: int) -> tuple[bool, float]:
    full_key = backend.make_and_validate_key(key)
    client = backend._cache.get_client(full_key, write=True)
    allowed, wait = client.eval(_SLIDING_WINDOW, 1, full_key, window, limit, uuid.uuid4().hex,
                                weight)
    return bool(int(allowed)), max(0.0, float(wait))


def _local_hit(backend: Any, key: str, limit: int, window: float,
               weight: int) -> tuple[bool, float]:
    """The same count for caches that are not shared (one process's memory, embedded)."""
    with _local_lock:
        now = time.time()
        entries = [e if isinstance(e, tuple) else (e, 1) for e in backend.get(key, [])]
        history = [(stamp, w) for stamp, w in entries if stamp > now - window]
        used = sum(w for _, w in history)
        if used + weight > limit:
            if weight > limit:
                return False, window
            for stamp, w in history:
                used -= w
                if used + weight <= limit:
                    return False, max(0.0, stamp + window - now)
            return False, window
        history.append((now, weight))
        backend.set(key, history, int(window) + 1)
        return True, 0.0
