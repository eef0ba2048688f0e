"""A real Celery worker in the test process, on a clean broker."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, cast

from django.conf import settings

if TYPE_CHECKING:
    from kombu.transport.virtual import Channel as VirtualChannel


def all_queues() -> list[str]:
    return [q for queues in settings.WORKER_QUEUES.values() for q in queues]


def purge_broker() -> None:
    from camio_portal.celery import app

    with app.connection_for_write() as conn:
        for queue in all_queues():
            # A queue that was never declared has nothing to purge. Both brokers the tests
            # use (filesystem, Redis) are kombu virtual transports.
            with contextlib.suppress(Exception):
                cast("VirtualChannel", conn.default_channel).queue_purge(queue)


@contextlib.contextmanager
def running_worker(queues: list[str] | None = None):
    """Run a real Celery worker in this process (so patches and settings apply), on
    ``queues`` (default: every queue, both workers' work in one)."""
    from celery.contrib.testing.worker import start_worker

    from callbacks.tasks import worker_stopping
    from camio_portal.celery import app

    purge_broker()
    with start_worker(
        app,
        pool="solo",
        concurrency=1,
        perform_ping_check=False,
        loglevel="WARNING",
        shutdown_timeout=30,
        queues=queues or all_queues(),
    ) as w:
        yield w
        worker_stopping()  # its sends recorded, its heartbeat stopped
    purge_broker()
