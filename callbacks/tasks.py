"""Celery tasks: each takes ids (JSON primitives) and calls the engine."""

from __future__ import annotations

from celery import shared_task
from celery.signals import worker_process_shutdown, worker_shutdown

from callbacks.delivery import engine


@shared_task(name="callbacks.deliver", ignore_result=True)
def deliver(delivery_ids: list[str]) -> int:
    return engine.deliver(delivery_ids)


@shared_task(name="callbacks.sweep", ignore_result=True)
def sweep() -> dict[str, int]:
    return engine.sweep()


@shared_task(name="callbacks.replay", ignore_result=True)
def replay(job_id: str) -> None:
    from callbacks.services import replay_run

    replay_run(job_id=job_id)


@shared_task(name="callbacks.retention", ignore_result=True)
def retention() -> int:
    from callbacks.services import retention_purge

    return retention_purge()


@worker_shutdown.connect
@worker_process_shutdown.connect
def _finish_sends(**kwargs: object) -> None:
    from callbacks.delivery.dispatcher import shutdown_dispatcher

    shutdown_dispatcher(timeout=20)
