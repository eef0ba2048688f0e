"""Over HTTP with a real worker: a Box's report becomes an incident.created shaped like
the seed's; evaluations of one Box never wait for each other and open one incident."""

from __future__ import annotations

import datetime
import json
import re
import threading
import uuid
from pathlib import Path

import pytest
from django.db import connection, connections
from django.utils import timezone

from callbacks.delivery import outbox
from incidents import services
from incidents.models import CounterReport, EvaluationLock, Incident
from incidents.services.evaluate import box_subject
from tests.receiver import wait_for

pytestmark = pytest.mark.usefixtures("counter_rules")

SEED = json.loads(
    (Path(__file__).parent / "fixtures" / "events" / "incident.created.json").read_text()
)


EXTRAS = {"camera_ip", "camera_id", "device_id", "incident_id"}
CAMIO_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}-0000$")


def same_shape(seed, ours, path="") -> list[str]:
    """Return where ``ours`` differs from ``seed`` in keys or JSON types."""
    if isinstance(seed, dict):
        if not isinstance(ours, dict):
            return [f"{path}: not an object"]
        problems = [f"{path}.{k}: missing" for k in seed if k not in ours]
        extra = set(ours) - set(seed)
        if path == ".data.object.incident":
            extra -= EXTRAS
        problems += [f"{path}.{k}: not in the seed" for k in sorted(extra)]
        return problems + [
            p for k in seed if k in ours for p in same_shape(seed[k], ours[k], f"{path}.{k}")
        ]
    kinds = (bool, int | float, str, list, type(None))
    for kind in kinds:
        if isinstance(seed, kind) and not (
            isinstance(ours, kind) and not (kind is not bool and isinstance(ours, bool))
        ):
            return [f"{path}: {type(ours).__name__} where the seed has {type(seed).__name__}"]
    return []


@pytest.mark.django_db(transaction=True)
def test_a_restart_storm_delivers_incident_created_like_the_seed(
    worker, receiver, endpoint_for, box, camera, token_for, client_with
):
    endpoint_for(receiver.url, ["incident.created"])
    client = client_with(token_for(kind="box", device=box), "Bearer")
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=317000)
    answer = client.post(
        f"/api/devices/{box.device_id}/counters",
        {
            "time": now.isoformat(),
            "cameras": {camera.camera_id: {"segmentation_process_restart_count": 47}},
        },
    )
    assert answer.status_code == 202, answer.json()
    wait_for(lambda: receiver.received, what="incident.created")
    body = json.loads(receiver.received[0].body)
    assert same_shape(SEED, body) == []
    incident = body["data"]["object"]["incident"]
    assert incident["camera_name"] == "Front Entrance"
    assert CAMIO_DATE.match(incident["date"]) and incident["date"].endswith(".317-0000")
    assert incident["camera_id"] == camera.camera_id and incident["device_id"] == box.device_id
    assert incident["camera_ip"] == "192.168.1.20"
    assert incident["incident_id"] == Incident.objects.get().incident_id
    event = incident["counter_events"]["segmentation_process_restart_count"]
    assert event["value"] == 47 and event["description"].startswith("47 > 15 means")
    assert body["data"]["object"]["user"]["email"] == "hq@acme.com"


def flood_batch(camera, request: int) -> list[dict]:
    start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
    return [{"time": (start + datetime.timedelta(seconds=request + n / 10)).isoformat(),
             "cameras": {camera.camera_id: {"segmentation_process_restart_count": 1}}}
            for n in range(10)]


def restart_report(box, camera) -> list[int]:
    now = datetime.datetime.now(datetime.UTC)
    return services.ingest_reports(
        device=box,
        reports=[
            {
                "time": now.isoformat(),
                "cameras": {camera.camera_id: {"segmentation_process_restart_count": 30}},
            }
        ],
    ).report_ids


@pytest.mark.django_db(transaction=True)
def test_an_evaluation_of_a_held_box_gives_the_work_back_instead_of_waiting(
    box, camera, settings, monkeypatch
):
    settings.INCIDENT_MAX_AGE = 10**9
    restart_report(box, camera)
    holder = uuid.uuid4()
    EvaluationLock.objects.create(
        subject=box_subject(box.pk),
        held_by=holder,
        held_until=timezone.now() + datetime.timedelta(seconds=60),
    )
    asked: list[tuple] = []
    monkeypatch.setattr(
        outbox.current_app, "send_task",
        lambda name, args, **kw: asked.append((name, args, kw.get("countdown"))),
    )
    run = services.evaluate_box(box.pk)
    assert run.given_back and run.evaluated == 0  # returned at once, nothing judged
    assert asked == []  # nor asked again: the holder looks when it lets go (P21)
    EvaluationLock.objects.filter(held_by=holder).update(held_by=None, held_until=None)
    run = services.evaluate_box(box.pk)
    assert run.evaluated == 1 and len(run.opened) == 1
    assert services.evaluate_box(box.pk).evaluated == 0
    assert Incident.objects.filter(camera=camera).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_evaluations_of_one_box_open_one_incident(box, camera, settings):
    settings.INCIDENT_MAX_AGE = 10**9
    ids = restart_report(box, camera)
    start, opened = threading.Barrier(2), []

    def evaluate():
        start.wait(10)
        opened.append(len(services.evaluate_reports(ids)))
        connections.close_all()

    threads = [threading.Thread(target=evaluate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(opened) == [0, 1]
    connection.close()
    assert Incident.objects.filter(camera=camera).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_flood_for_a_held_box_queues_one_task_not_one_a_second(
    box, camera, settings, monkeypatch
):
    """P21 (2): 40 ingest requests while another runner holds the Box, each followed by a
    worker pass over what is queued, then 20 idle passes: one task ran (and gave the work
    back). Before, each given-back task queued itself again, once per pass, for as long
    as the lease was held. When the holder lets go it asks once; the backlog drains."""
    settings.INCIDENT_MAX_AGE = 10**9
    settings.INCIDENT_EVALUATION_CHUNKS_PER_TASK = 2  # 200 reports a task
    queue: list[int] = []
    monkeypatch.setattr(outbox.current_app, "send_task",
                        lambda name, args, **kw: queue.extend(args[0]))
    runs = []

    def worker_pass() -> None:  # the tasks queued when it starts (a second of a worker)
        due = list(queue)
        queue.clear()
        runs.extend(services.evaluate_box(pk) for pk in due)

    holder = uuid.uuid4()
    EvaluationLock.objects.create(subject=box_subject(box.pk), held_by=holder,
                                  held_until=timezone.now() + datetime.timedelta(seconds=600))
    for request in range(40):  # what the counters route does per request
        services.ingest_reports(device=box, reports=flood_batch(camera, request))
        services.request_evaluation([box.pk])
        worker_pass()
    for _ in range(20):
        worker_pass()
    assert len(runs) == 1 and runs[0].given_back
    # The holder was a task: letting go with reports left, it asks once more.
    EvaluationLock.objects.filter(held_by=holder).update(held_by=None, held_until=None)
    first = services.evaluate_box(box.pk)  # what the holder's next task does
    assert first.evaluated == 200 and first.reports_left and queue == [box.pk]
    worker_pass()
    assert [run.evaluated for run in runs] == [0, 200] and queue == []
    assert not CounterReport.objects.filter(evaluated_at__isnull=True).exists()
    assert EvaluationLock.objects.get(subject=box_subject(box.pk)).queued_at is None
