"""The Celery app: configured from Django settings (CELERY_* names)."""

from typing import Any

import click
from celery import Celery, bootsteps
from celery.signals import celeryd_init, setup_logging

from camio_portal.env import use_default_settings
from camio_portal.logs import configure, configured

use_default_settings()

app = Celery("camio_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class ThreadedBeat(bootsteps.StartStopStep):
    """Beat as a thread of this worker (``--beat-thread``, with ``--schedule FILE``): what
    embedded mode's other worker runs, so beat costs no process of its own. Celery's
    ``--beat`` forks one (about 50 MB); a thread shares the worker's memory. Run one beat
    per portal, whichever way."""

    label = "Beat (thread)"
    conditional = True

    def __init__(self, w: Any, beat_thread: bool = False, **kwargs: Any) -> None:
        self.enabled = bool(beat_thread)
        super().__init__(w, **kwargs)

    def create(self, w: Any) -> Any:
        from celery.beat import EmbeddedService

        return EmbeddedService(w.app, schedule_filename=w.schedule_filename,
                               scheduler_cls=w.scheduler, thread=True)


class Liveness(bootsteps.StartStopStep):
    """Registers the worker with its roles (the queues it consumes) and heartbeats it, so
    ``/healthz`` knows who is alive and a stopped delivery worker's claims come back in
    seconds (callbacks.tasks.worker_started)."""

    label = "Liveness"

    def start(self, w: Any) -> None:
        from callbacks.tasks import worker_started

        worker_started(w.app.amqp.queues.consume_from, forks="prefork" in w.pool_cls.__module__)

    def stop(self, w: Any) -> None:
        from callbacks.tasks import worker_stopping

        worker_stopping()


app.user_options["worker"].add(
    click.Option(["--beat-thread"], is_flag=True, default=False,
                 help="Run beat as a thread of this worker (embedded mode).")
)
app.steps["worker"].add(ThreadedBeat)
app.steps["worker"].add(Liveness)


@setup_logging.connect  # instead of Celery's own handlers and format
def _use_django_logging(**kwargs: object) -> None:
    """Log workers and beat through Django's LOGGING (LOG_FORMAT), unless already done."""
    from django.conf import settings

    if not configured():
        configure(settings.LOGGING)


@celeryd_init.connect
def _quiet_when_json(instance: Any, **kwargs: object) -> None:
    """Set up logging before the worker's first warning; in JSON, skip its banner (plain
    text; ``celery beat`` needs ``--quiet`` for the same)."""
    from django.conf import settings

    _use_django_logging()
    if settings.LOG_FORMAT == "json":
        instance.quiet = True
