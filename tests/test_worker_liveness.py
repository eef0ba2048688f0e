"""P15 (3): claims belong to live liveness. A delivery worker heartbeats; when it stops, its
claims come back within three heartbeats (taken back by a live worker, or at once by
the worker that replaces it), not after the lease."""

from __future__ import annotations

import datetime

import pytest
from django.db import transaction
from django.utils import timezone

from callbacks import catalog, liveness
from callbacks.delivery import sweeper
from callbacks.delivery.claims import claim
from callbacks.models import Attempt, Delivery, Worker
from callbacks.publishing import publish
from tests.processes import kill_group, start_worker
from tests.receiver import wait_for

# A lease far longer than any wait below: whatever comes back, the heartbeat brought.
LIVENESS = {
    "CALLBACK_LEASE_SECONDS": "600",
    "CALLBACK_WORKER_HEARTBEAT": "0.5",
    "CALLBACK_SWEEP_INTERVAL": "600",
}


def publish_held(acme, endpoint_for, receiver, count: int) -> None:
    """``count`` deliveries to a receiver that holds every request until released."""
    receiver.hold_after = 0
    endpoint_for(receiver.url, ["camera.created"])
    example = catalog.get("camera.created").example
    with transaction.atomic():
        for _ in range(count):
            publish(domain=acme, type="camera.created", object=example)


def claimed_by_one_worker(count: int) -> Worker:
    """Wait until ``count`` deliveries are being sent by one registered worker; return it."""
    wait_for(lambda: Delivery.objects.filter(state="sending").count() == count,
             timeout=60, what=f"{count} deliveries claimed")
    [token] = set(Delivery.objects.values_list("claim_token", flat=True))
    assert token is not None
    return Worker.objects.get(pk=token)


def assert_sent_again_after_an_unknown_outcome(count: int) -> None:
    assert Delivery.objects.filter(state="succeeded").count() == count
    unknown = Attempt.objects.filter(outcome_unknown=True)
    assert unknown.count() == count
    assert all("its heartbeat stopped" in a.error for a in unknown)
    assert set(Delivery.objects.values_list("attempt_count", "off_schedule_attempts")) == {(2, 1)}


@pytest.mark.workers
@pytest.mark.django_db(transaction=True)
def test_a_restarted_worker_takes_back_its_predecessors_claims_at_once(
    tmp_path, receiver, endpoint_for, acme
):
    publish_held(acme, endpoint_for, receiver, 12)
    log = tmp_path / "worker.log"
    first = start_worker(log, tmp_path / "beat-1", **LIVENESS)
    try:
        dead = claimed_by_one_worker(12)
    finally:
        kill_group(first)  # SIGKILL: no goodbye, its rows stay "sending"
    assert Delivery.objects.filter(state="sending").count() == 12
    receiver.released.set()
    second = start_worker(log, tmp_path / "beat-2", **LIVENESS)
    try:
        wait_for(lambda: Delivery.objects.filter(state="succeeded").count() == 12,
                 timeout=60, what="the killed worker's claims delivered by its successor")
    finally:
        kill_group(second)
    assert not Worker.objects.filter(pk=dead.pk).exists()
    assert_sent_again_after_an_unknown_outcome(12)


@pytest.mark.workers
@pytest.mark.django_db(transaction=True)
def test_a_live_worker_takes_back_a_stopped_workers_claims(
    tmp_path, receiver, endpoint_for, acme
):
    publish_held(acme, endpoint_for, receiver, 12)
    log = tmp_path / "worker.log"
    first = start_worker(log, tmp_path / "beat-1", **LIVENESS)
    second = None
    try:
        claimed_by_one_worker(12)
        second = start_worker(log, tmp_path / "beat-2", **LIVENESS)  # alive before the kill
        wait_for(lambda: Worker.objects.count() == 2, timeout=60, what="the second worker")
        kill_group(first)
        receiver.released.set()
        wait_for(lambda: Delivery.objects.filter(state="succeeded").count() == 12,
                 timeout=60, what="the stopped worker's claims delivered by the other")
    finally:
        kill_group(first)
        if second is not None:
            kill_group(second)
    assert_sent_again_after_an_unknown_outcome(12)


@pytest.mark.workers
@pytest.mark.django_db(transaction=True)
def test_each_process_of_a_forking_delivery_worker_is_a_worker_of_its_own(
    tmp_path, receiver, endpoint_for, acme
):
    endpoint_for(receiver.url, ["camera.created"])
    worker = start_worker(tmp_path / "worker.log", tmp_path / "beat", pool="prefork",
                          queues="deliveries,deliveries-replay", **LIVENESS)
    try:
        wait_for(lambda: Worker.objects.filter(roles="deliveries").count() == 2, timeout=60,
                 what="the two pool processes registered")
        pids = set(Worker.objects.values_list("pid", flat=True))
        assert worker.pid not in pids  # the parent sends nothing: its processes do
        with transaction.atomic():
            for _ in range(20):
                publish(domain=acme, type="camera.created",
                        object=catalog.get("camera.created").example)
        wait_for(lambda: Delivery.objects.filter(state="succeeded").count() == 20,
                 timeout=60, what="20 deliveries sent by the pool processes")
    finally:
        kill_group(worker)


@pytest.mark.django_db
def test_only_the_claims_of_workers_silent_for_three_heartbeats_come_back(
    settings, pending_delivery, acme
):
    settings.CALLBACK_WORKER_HEARTBEAT = 1.0
    now = timezone.now()
    silent = liveness.register(["deliveries"])
    alive = liveness.register(["deliveries"])
    Worker.objects.filter(pk=silent).update(seen_at=now - datetime.timedelta(seconds=3.5))
    Worker.objects.filter(pk=alive).update(seen_at=now - datetime.timedelta(seconds=2.5))
    publish(domain=acme, type="camera.created", object={"camera": {}})
    first, second = Delivery.objects.order_by("created_at")
    assert len(claim([str(first.pk), str(second.pk)], 2)) == 2
    Delivery.objects.filter(pk=first.pk).update(claim_token=silent)
    Delivery.objects.filter(pk=second.pk).update(claim_token=alive)

    assert sweeper.take_back_dead(now) == [[str(first.pk), first.endpoint_id]]
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, first.claim_token, second.state) == ("pending", None, "sending")
    [unknown] = Attempt.objects.all()
    assert unknown.delivery_id == first.pk and unknown.outcome_unknown
    assert list(Worker.objects.values_list("pk", flat=True)) == [alive]
    assert sweeper.take_back_dead(now) == []  # taken once
