"""P15 (2): fair between domains. One domain's slow endpoints, with a backlog that could
fill every slot of the delivery worker, never hold another domain's callbacks back:
one share always stays free for a domain that has none in flight."""

from __future__ import annotations

import time

import pytest

from callbacks.models import Delivery
from callbacks.publishing import publish_many
from domains import services
from tests.processes import kill_group, start_worker
from tests.receiver import Receiver, wait_for

pytestmark = [pytest.mark.workers, pytest.mark.django_db(transaction=True)]

SLOW_SECONDS = 6.0  # longer than the wait below: a slot held by the slow tenant never frees


def slowly(index, request):
    time.sleep(SLOW_SECONDS)  # the slow tenant's receiver
    return 200, {}, b"ok"


def test_a_slow_tenant_does_not_hold_up_another_domains_callbacks(
    tmp_path, receiver, endpoint_for, beta, api, acme_admin, box
):
    slow = Receiver(answer=slowly)
    worker = None
    try:
        for n in range(6):
            endpoint_for(f"{slow.url}/slow{n}", ["camera.created"], domain=beta)
        publish_many(domain=beta, events=[("camera.created", {"n": n}, "") for n in range(100)])
        fast = endpoint_for(receiver.url, ["camera.created"])
        worker = start_worker(tmp_path / "worker.log", tmp_path / "beat",
                              queues="deliveries,deliveries-replay",
                              CALLBACK_PROCESS_INFLIGHT="24", CALLBACK_ENDPOINT_INFLIGHT="24")
        # The slow tenant takes what it may of the worker's 24 slots and holds them.
        wait_for(lambda: Delivery.objects.filter(domain=beta, state="sending").count() >= 8,
                 timeout=60, what="the slow tenant's deliveries in flight")
        sent = api.post(f"/api/endpoints/{fast.endpoint_id}/test?wait=true",
                        {"event_type": "camera.created"})
        assert sent.status_code == 200, sent.json()
        assert sent.json()["state"] == "succeeded"
        services.camera_create(owner=acme_admin, device=box, name="Not behind the slow ones")
        wait_for(lambda: any(b"Not behind the slow ones" in r.body for r in receiver.received),
                 timeout=5, what="acme's camera.created beside the slow tenant")
        assert Delivery.objects.filter(domain=beta, state="pending").count() > 400
    finally:
        if worker is not None:
            kill_group(worker)
        slow.close()
