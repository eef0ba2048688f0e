"""The Celery app: configured from Django settings (CELERY_* names)."""

import contextlib
from typing import Any

import click
import sentry_sdk
from celery import Celery, bootsteps
from celery.signals import (
    before_task_publish,
    celeryd_init,
    setup_logging,
    task_postrun,
    task_prerun,
)

from callbacks import tracing
from camio_portal import telemetry
from camio_portal.env import use_default_settings
from camio_portal.logs import configure, configured

use_default_settings()
telemetry.configure()  # spans only when an OTLP endpoint is configured

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


# A task runs for the request (or task) that queued it: its request id and trace context
# travel in the message's headers, so its log lines and the events it publishes carry
# them (callbacks/tracing.py).
_working: dict[str, contextlib.ExitStack] = {}


@before_task_publish.connect
def _carry_request(headers: dict[str, Any] | None = None, **kwargs: object) -> None:
    request_id, parent, state = tracing.carried()  # the request's span, with spans on
    if headers is not None and (request_id or parent):
        headers.update(camio_request_id=request_id, camio_traceparent=parent,
                       camio_tracestate=state)


@task_prerun.connect
def _work_for_request(task_id: str = "", task: Any = None, **kwargs: object) -> None:
    request = getattr(task, "request", None)
    found = {name: getattr(request, name, None) or (getattr(request, "headers", None) or {})
             .get(name) for name in ("camio_request_id", "camio_traceparent",
                                     "camio_tracestate")}
    if not (found["camio_request_id"] or found["camio_traceparent"]):
        return
    request_id = tracing.sane_request_id(found["camio_request_id"])
    stack = contextlib.ExitStack()
    stack.enter_context(tracing.working_for(request_id, found["camio_traceparent"] or "",
                                            found["camio_tracestate"] or ""))
    _working[task_id] = stack
    if request_id and sentry_sdk.is_initialized():
        sentry_sdk.set_tag("request_id", request_id)


@task_postrun.connect
def _done_for_request(task_id: str = "", **kwargs: object) -> None:
    stack = _working.pop(task_id, None)
    if stack is not None:
        stack.close()
