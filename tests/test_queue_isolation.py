"""Acceptance (P7, 4): deliveries never wait behind incident evaluation.

A Box floods its counter reports within the documented caps; their evaluation
is queued on the ``incidents`` queue. A delivery worker alone (the production
layout's delivery role) still answers another domain's test event within its
wait and delivers that domain's camera change, while the evaluation is still
queued.
"""

from __future__ import annotations

import datetime
import json
from typing import TYPE_CHECKING, cast

import pytest
from kombu.exceptions import ChannelError

from callbacks.services import endpoint_create
from camio_portal.celery import app
from domains import services
from incidents.models import CounterReport, Incident
from tests.processes import kill_group, start_worker
from tests.receiver import wait_for
from tests.support.workers import running_worker

if TYPE_CHECKING:
    from kombu.transport.virtual import Channel as VirtualChannel

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.workers]


def queued(queue: str) -> int:
    """Messages waiting in ``queue`` of the broker."""
    with app.connection_for_write() as conn:
        try:
            # Both brokers the tests use (filesystem, Redis) are kombu virtual transports.
            channel = cast("VirtualChannel", conn.default_channel)
            return channel.queue_declare(queue=queue, passive=True).message_count
        except ChannelError:  # never declared, or emptied (Redis drops empty lists)
            return 0


def camera_of(body: bytes) -> str:
    return json.loads(body)["data"]["object"]["camera"]["camera_id"]


def flood(client, box, camera, requests: int = 20, per_request: int = 100) -> int:
    start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=50)
    for n in range(requests):
        reports = [
            {
                "time": (start + datetime.timedelta(seconds=n * per_request + i)).isoformat(),
                "cameras": {camera.camera_id: {"segmentation_process_restart_count": 1,
                                               "movies_discarded_count": 1}},
                "box": {"upload_queue_length": 3},
            }
            for i in range(per_request)
        ]
        answer = client.post(
            f"/api/devices/{box.device_id}/counters", {"reports": reports}, format="json"
        )
        assert answer.status_code == 202, answer.json()
    return requests * per_request


def test_a_flood_of_counter_reports_does_not_hold_another_domains_deliveries(
    settings, receiver, box, camera, beta, beta_admin, token_for, client_with, counter_rules
):
    with running_worker(queues=settings.WORKER_QUEUES["deliveries"]):
        sent_reports = flood(client_with(token_for(kind="box", device=box), "Bearer"), box, camera)
        assert CounterReport.objects.filter(evaluated_at=None).count() == sent_reports
        assert queued("incidents") >= 1  # the flood's evaluation waits for its own workers

        endpoint = endpoint_create(
            domain=beta, url=receiver.url, event_types=["camera.created"], actor=None
        )
        api = client_with(token_for(beta_admin))
        assert queued("incidents") >= 1
        answer = api.post(
            f"/api/endpoints/{endpoint.endpoint_id}/test?wait=true",
            {"event_type": "camera.created"},
            format="json",
        )
        assert answer.status_code == 200, answer.json()
        assert answer.json()["state"] == "succeeded"
        assert queued("incidents") >= 1  # still queued when the test event succeeded
        assert CounterReport.objects.filter(evaluated_at=None).count() == sent_reports

        gate_box = services.device_create(
            owner=beta_admin, name="Gate Box", mac_address="aa:bb:cc:00:99:01"
        )
        gate = services.camera_create(
            owner=beta_admin, device=gate_box, name="Gate", ip_address="10.0.0.9"
        )
        wait_for(
            lambda: gate.camera_id in {camera_of(r.body) for r in receiver.received},
            timeout=30,
            what="beta.org's camera.created",
        )
        assert queued("incidents") >= 1


def test_deliveries_keep_their_deadline_while_a_flood_is_evaluated(
    tmp_path, settings, receiver, box, camera, beta, beta_admin, token_for, client_with,
    counter_rules,
):
    """The other worker evaluates the flood meanwhile (its transactions are short, so the
    delivery worker's writes do not wait long behind them)."""
    other = start_worker(tmp_path / "other.log", tmp_path / "beat",
                         queues=",".join(settings.WORKER_QUEUES["other"]))
    try:
        with running_worker(queues=settings.WORKER_QUEUES["deliveries"]):
            flood(client_with(token_for(kind="box", device=box), "Bearer"), box, camera)
            endpoint = endpoint_create(
                domain=beta, url=receiver.url, event_types=["camera.created"], actor=None
            )
            answer = client_with(token_for(beta_admin)).post(
                f"/api/endpoints/{endpoint.endpoint_id}/test?wait=true",
                {"event_type": "camera.created"},
                format="json",
            )
            assert answer.status_code == 200, answer.json()
            assert answer.json()["state"] == "succeeded"
            wait_for(lambda: not CounterReport.objects.filter(evaluated_at=None).exists(),
                     timeout=180, what="the flood evaluated by the other worker")
            assert Incident.objects.filter(camera=camera).exists()
    finally:
        kill_group(other)
