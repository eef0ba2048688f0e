"""Acceptance 3 and 4: a killed worker and a stopped broker lose nothing."""

from __future__ import annotations

import shutil
from collections import Counter

import pytest
from django.db import transaction
from django.db.models import Sum

from callbacks import catalog
from callbacks.models import Attempt, Delivery, EndpointHourlyStat, Worker
from callbacks.publishing import publish
from tests.processes import (
    free_port,
    kill_group,
    manage,
    redis_answers,
    start_redis,
    start_worker,
)
from tests.receiver import wait_for

pytestmark = pytest.mark.workers

FAST = {
    "CALLBACK_LEASE_SECONDS": "3",
    "CALLBACK_SWEEP_INTERVAL": "0.5",
    "CALLBACK_ENDPOINT_INFLIGHT": "20",
}


@pytest.mark.django_db(transaction=True)
def test_killed_worker_loses_nothing(tmp_path, receiver, endpoint_for, acme):
    receiver.hold_after = 1000
    endpoint_for(receiver.url, ["camera.created"])
    example = catalog.get("camera.created").example
    for _ in range(20):
        with transaction.atomic():
            for _ in range(100):
                publish(domain=acme, type="camera.created", object=example)
    log = tmp_path / "worker.log"
    first = start_worker(log, tmp_path / "beat-1", **FAST)
    try:
        wait_for(lambda: len(receiver.received) >= 1000, timeout=120, what="1,000 receipts")
        wait_for(
            lambda: Delivery.objects.filter(state="succeeded").count() == 1000,
            timeout=60,
            what="the 1,000 answered deliveries to be recorded",
        )
        wait_for(lambda: len(receiver.received) > 1000, what="requests held by the receiver")
        # Requests the receiver holds unanswered: what the killed worker had in flight.
        held = len(receiver.received) - 1000
        assert 0 < held <= int(FAST["CALLBACK_ENDPOINT_INFLIGHT"])
    finally:
        kill_group(first)
    receiver.released.set()
    second = start_worker(log, tmp_path / "beat-2", **FAST)
    try:
        wait_for(
            lambda: len(set(receiver.ids())) == 2000, timeout=180, what="2,000 distinct webhook-ids"
        )
        wait_for(
            lambda: Delivery.objects.filter(state="succeeded").count() == 2000,
            timeout=60,
            what="every delivery recorded as succeeded",
        )
    finally:
        kill_group(second)
    duplicates = len(receiver.received) - 2000
    assert duplicates <= int(FAST["CALLBACK_ENDPOINT_INFLIGHT"]), log.read_text()[-3000:]
    # Every delivery the killed worker held ends with an "outcome unknown" attempt
    # before its resend's, and uses no retry slot; the rollup counts only real answers.
    unknown = Attempt.objects.filter(outcome_unknown=True)
    assert held <= unknown.count() <= int(FAST["CALLBACK_ENDPOINT_INFLIGHT"])
    counts = Counter(receiver.ids())
    sent_twice = {webhook_id for webhook_id, n in counts.items() if n > 1}
    assert len(sent_twice) == duplicates
    assert sent_twice <= {str(a.delivery.event_id) for a in unknown.select_related("delivery")}
    for attempt in unknown.select_related("delivery"):
        log_of = list(attempt.delivery.attempts.order_by("number"))
        assert [(a.number, a.outcome_unknown, a.succeeded) for a in log_of] == [
            (1, True, False), (2, False, True)
        ]
        assert attempt.response_status is None
        assert attempt.error.startswith("Outcome unknown: the worker stopped while sending")
        assert (attempt.delivery.attempt_count, attempt.delivery.off_schedule_attempts) == (2, 1)
    hourly = EndpointHourlyStat.objects.aggregate(ok=Sum("succeeded"), bad=Sum("failed"))
    assert hourly == {"ok": 2000, "bad": 0}


@pytest.mark.skipif(
    shutil.which("redis-server") is None,
    reason="needs the redis-server program to run a private broker",
)
@pytest.mark.django_db(transaction=True)
def test_a_camera_saved_while_the_broker_is_down_is_delivered_at_once(
    tmp_path, receiver, endpoint_for, box, acme_admin
):
    """P15: the broker is not on the delivery path (the outbox notifies the workers through
    PostgreSQL), so a broker outage delays no callback."""
    port = free_port()
    broker = {"CELERY_BROKER_URL": f"redis://127.0.0.1:{port}/0", **FAST}
    endpoint_for(receiver.url, ["camera.created"])
    redis = start_redis(port, tmp_path)
    wait_for(lambda: redis_answers(port), what="the private Redis")
    worker = start_worker(tmp_path / "worker.log", tmp_path / "beat", **broker)
    try:
        wait_for(lambda: Worker.objects.filter(roles__contains="deliveries").exists(),
                 timeout=60, what="the delivery worker")
        kill_group(redis)
        saved = manage(
            "shell",
            "-c",
            (
                "from domains.models import Device, User;"
                "from domains.services import camera_create;"
                f"camera_create(owner=User.objects.get(pk={acme_admin.pk}),"
                f" device=Device.objects.get(pk={box.pk}), name='Saved while the broker is down');"
                "print('saved')"
            ),
            **broker,
        )
        assert saved.returncode == 0, saved.stderr
        assert "saved" in saved.stdout
        wait_for(lambda: receiver.received, timeout=30, what="the delivery, broker still down")
        assert b"Saved while the broker is down" in receiver.received[0].body
        assert not redis_answers(port)
    finally:
        kill_group(worker)
        kill_group(redis)
