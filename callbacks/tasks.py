"""Celery tasks: each takes ids (JSON primitives) and calls the engine or a service.

Queues (settings.CELERY_TASK_ROUTES): the delivery sweeper and follow-ups on
``deliveries``; the replay job on ``replay``; retention on ``maintenance``.
Deliveries themselves need no message: the outbox wakes the delivery workers through
PostgreSQL (callbacks.delivery.outbox).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from celery import current_app, shared_task
from celery.signals import worker_process_init, worker_process_shutdown, worker_shutdown
from django.conf import settings

from callbacks import liveness, services
from callbacks.delivery import breaker, sweeper
from callbacks.delivery.dispatcher import (
    get_dispatcher,
    running_dispatcher,
    shutdown_dispatcher,
)
from callbacks.models import Endpoint
from callbacks.services import operational


@shared_task(name="callbacks.deliver", ignore_result=True)
def deliver(items: list[Any]) -> int:
    """Drain a message queued by a version before P15: its deliveries' endpoints have due
    work (``[id, endpoint id]`` pairs; bare ids are found by the next scan)."""
    return get_dispatcher().accept(items)


@shared_task(name="callbacks.sweep", ignore_result=True)
def sweep() -> dict[str, int]:
    swept = sweeper.sweep()
    # Digests whose time came, and any episode a lost announce message left unsaid.
    swept["announced"] = operational.announce()
    return swept


@shared_task(name="callbacks.endpoint_disable", ignore_result=True)
def endpoint_disable(items: list[list[Any]]) -> int:
    """Disable endpoints the recorder found broken: ``[endpoint id, reason]`` pairs."""
    disabled = 0
    for endpoint_id, reason in items:
        endpoint = Endpoint.objects.filter(pk=endpoint_id, enabled=True).first()
        if endpoint is not None:
            services.endpoint_disable(endpoint=endpoint, actor=None, reason=reason,
                                      cause="gone" if reason == breaker.GONE else "exhausted")
            disabled += 1
    return disabled


@shared_task(name="callbacks.announce", ignore_result=True)
def announce(endpoint_ids: list[int]) -> int:
    """Publish the operational events of endpoints whose failing episode began or ended."""
    return operational.announce(endpoint_ids)


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


def roles_of(queues: Iterable[str]) -> list[str]:
    """The worker roles (settings.WORKER_QUEUES) whose queues are among ``queues``."""
    consumed = set(queues)
    return [role for role, names in settings.WORKER_QUEUES.items() if consumed & set(names)]


def worker_started(queues: Iterable[str], forks: bool = False) -> None:
    """A Celery worker consuming ``queues`` started (camio_portal/celery.py): register it
    and start its heartbeat; a delivery worker starts its sender and takes back what
    stopped workers held (its own predecessor's at once). With a forking pool each pool
    process sends (and registers) for itself: ``_pool_process_started``."""
    roles = roles_of(queues)
    if forks and "deliveries" in roles:
        roles.remove("deliveries")
    delivers = "deliveries" in roles
    if roles:
        worker = uuid.uuid4()
        if delivers:  # the sender first: the heartbeat's first beat hands it work
            get_dispatcher(worker)
        liveness.start_heartbeat(roles, _take_back if delivers else None, worker)


@worker_process_init.connect
def _pool_process_started(**kwargs: object) -> None:
    """A prefork pool process of a delivery worker: a worker of its own (its claims, its
    heartbeat, its sender)."""
    if "deliveries" in roles_of(current_app.amqp.queues.consume_from):
        worker = uuid.uuid4()
        get_dispatcher(worker)
        liveness.start_heartbeat(["deliveries"], _take_back, worker)


def _take_back(first: bool) -> None:
    """Each beat of a delivery worker: learn who the live delivery workers are, take back
    the claims of workers whose heartbeat stopped (the first time, a predecessor on this
    host at once) and send them here. A worker stopping (its sender shut down) takes
    nothing: it never starts a sender again."""
    dispatcher = running_dispatcher()
    if dispatcher is None:
        return
    dispatcher.set_peers(liveness.peers())
    taken = sweeper.take_back_dead(at_start=first)
    if taken:
        dispatcher.accept(taken)


@worker_shutdown.connect
@worker_process_shutdown.connect
def worker_stopping(**kwargs: object) -> None:
    """Finish in-flight sends, then leave the list of live workers."""
    shutdown_dispatcher(timeout=20)
    liveness.stop_heartbeat()
