"""Celery tasks: each takes ids (JSON primitives) and calls the engine or a service.

Queues (settings.CELERY_TASK_ROUTES): deliveries, retries, follow-ups and the
delivery sweeper on ``deliveries``; replayed deliveries on
``deliveries-replay``; the replay job on ``replay``; retention on
``maintenance``.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.signals import worker_process_shutdown, worker_shutdown

from callbacks import services
from callbacks.delivery import sweeper
from callbacks.delivery.dispatcher import get_dispatcher, shutdown_dispatcher
from callbacks.models import Endpoint


@shared_task(name="callbacks.deliver", ignore_result=True)
def deliver(items: list[Any]) -> int:
    """Hand delivery ids (``[id, endpoint id]`` pairs, or bare ids) to this process's sender."""
    return get_dispatcher().accept(items)


@shared_task(name="callbacks.sweep", ignore_result=True)
def sweep() -> dict[str, int]:
    return sweeper.sweep()


@shared_task(name="callbacks.endpoint_disable", ignore_result=True)
def endpoint_disable(items: list[list[Any]]) -> int:
    """Disable endpoints the recorder found broken: ``[endpoint id, reason]`` pairs."""
    disabled = 0
    for endpoint_id, reason in items:
        endpoint = Endpoint.objects.filter(pk=endpoint_id, enabled=True).first()
        if endpoint is not None:
            services.endpoint_disable(endpoint=endpoint, actor=None, reason=reason)
            disabled += 1
    return disabled


@shared_task(name="callbacks.circuit_changed", ignore_result=True)
def circuit_changed(items: list[list[Any]]) -> int:
    """Tell the domain's admins that circuits opened or closed: ``[endpoint id, state]``."""
    return sum(services.circuit_notify(endpoint_id=pk, state=state) for pk, state in items)


@shared_task(name="callbacks.replay", ignore_result=True)
def replay(job_ids: list[str] | str) -> None:
    for job_id in [job_ids] if isinstance(job_ids, str) else job_ids:
        services.replay_run(job_id=job_id)


@shared_task(name="callbacks.retention", ignore_result=True)
def retention() -> int:
    return services.retention_purge()


@worker_shutdown.connect
@worker_process_shutdown.connect
def _finish_sends(**kwargs: object) -> None:
    shutdown_dispatcher(timeout=20)
