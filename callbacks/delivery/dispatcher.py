"""The per-process sender: an asyncio loop (aiohttp) in one thread, a recorder in
another.

A Celery task claims deliveries and hands their jobs to the dispatcher, then
returns; the loop sends them concurrently with no transaction open, and the
recorder writes results in bulk as they complete. A slow or hanging endpoint
holds only its own in-flight slots (``CALLBACK_ENDPOINT_INFLIGHT``), never a
worker. If the process dies, the claimed rows' leases expire and the sweeper
sends them again.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time

from django.conf import settings
from django.db import connection

from callbacks.delivery.policy import Job, Result
from callbacks.delivery.recording import record
from callbacks.delivery.transport import AsyncSender

log = logging.getLogger(__name__)
FLUSH_SIZE = 500
FLUSH_SECONDS = 0.02


class Dispatcher:
    def __init__(self) -> None:
        self.capacity = settings.CALLBACK_PROCESS_INFLIGHT
        self._free = threading.Semaphore(self.capacity)
        self._results: queue.Queue[Result | None] = queue.Queue()
        self._busy = 0
        self._busy_lock = threading.Condition()
        self.capped: set[int] = set()
        self.loop = asyncio.new_event_loop()
        self.sender = AsyncSender(limit=self.capacity)
        self._loop_thread = threading.Thread(
            target=self._run_loop, name="callback-sender", daemon=True
        )
        self._recorder = threading.Thread(
            target=self._run_recorder, name="callback-recorder", daemon=True
        )
        self._loop_thread.start()
        self._recorder.start()

    # --- capacity ---------------------------------------------------------

    def reserve(self, wanted: int, timeout: float = 30.0) -> int:
        """Reserve up to ``wanted`` send slots, waiting for at least one."""
        if not self._free.acquire(timeout=timeout):
            return 0
        got = 1
        while got < wanted and self._free.acquire(blocking=False):
            got += 1
        return got

    def release(self, count: int) -> None:
        for _ in range(count):
            self._free.release()

    # --- sending ------------------------------------------------------------

    def submit(self, jobs: list[Job]) -> None:
        """Send ``jobs`` (each holding one reserved slot) without waiting for them."""
        with self._busy_lock:
            self._busy += len(jobs)
        for job in jobs:
            asyncio.run_coroutine_threadsafe(self._send(job), self.loop)

    async def _send(self, job: Job) -> None:
        try:
            result = await self.sender.send(job)
        except Exception:  # never lose the slot; the lease brings the delivery back
            log.exception("sending delivery %s failed unexpectedly", job.delivery_id)
            self.release(1)
            self._done(1)
            return
        self._results.put(result)

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
                remaining = deadline - time.monotonic()
                try:
                    item = (
                        self._results.get(timeout=max(remaining, 0.0))
                        if remaining > 0
                        else self._results.get_nowait()
                    )
                except queue.Empty:
                    break
                if item is None:
                    self._results.put(None)
                    break
                batch.append(item)
            self._flush(batch)

    def _flush(self, batch: list[Result]) -> None:
        from callbacks.delivery.engine import after_record

        try:
            retries = record(batch)
        except Exception:
            log.exception(
                "recording %d results failed; their leases will bring them back", len(batch)
            )
            connection.close()
            retries = []
        finally:
            self.release(len(batch))
            self._done(len(batch))
        endpoints = {r.job.endpoint_id for r in batch}
        try:
            after_record(retries, endpoints & self.capped)
        except Exception:
            log.exception("scheduling follow-up sends failed; the sweeper will catch up")

    def _done(self, count: int) -> None:
        with self._busy_lock:
            self._busy -= count
            self._busy_lock.notify_all()

    # --- lifecycle --------------------------------------------------------------

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every submitted job is sent and recorded."""
        deadline = time.monotonic() + timeout
        with self._busy_lock:
            while self._busy > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._busy_lock.wait(remaining)
        return True

    def stop(self, timeout: float = 30.0) -> None:
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
