"""Over HTTP with a real worker: a Box's report becomes an incident.created shaped like
the seed's; on PostgreSQL, evaluations of one camera wait for each other."""

from __future__ import annotations

import datetime
import json
import re
import threading
from pathlib import Path

import pytest
from django.db import connection, connections, transaction

from incidents import services
from incidents.models import EvaluationLock, Incident
from tests.receiver import wait_for

SEED = json.loads(
    (Path(__file__).parent / "fixtures" / "events" / "incident.created.json").read_text()
)


@pytest.fixture(autouse=True)
def _rules(counter_rules):
    """Every test here judges with the default rules."""


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


@pytest.mark.django_db(transaction=True)
def test_evaluations_of_one_camera_wait_for_the_lock_and_open_one_incident(
    db_vendor, box, camera, settings
):
    if db_vendor != "postgresql":
        pytest.skip("row locks that block are PostgreSQL's (SQLite runs one writer at a time)")
    settings.INCIDENT_MAX_AGE = 10**9
    now = datetime.datetime.now(datetime.UTC)
    ids = services.ingest_reports(
        device=box,
        reports=[
            {
                "time": now.isoformat(),
                "cameras": {camera.camera_id: {"segmentation_process_restart_count": 30}},
            }
        ],
    ).report_ids
    subject = services.subject_for(camera)
    EvaluationLock.objects.get_or_create(subject=subject)
    holder_ready, release, finished = threading.Event(), threading.Event(), []

    def hold_the_lock():
        with transaction.atomic():
            list(EvaluationLock.objects.select_for_update().filter(subject=subject))
            holder_ready.set()
            release.wait(20)
        connections.close_all()

    def evaluate():
        finished.append(len(services.evaluate_reports(ids)))
        connections.close_all()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    assert holder_ready.wait(10)
    first, second = threading.Thread(target=evaluate), threading.Thread(target=evaluate)
    first.start(), second.start()
    first.join(1.0)
    assert first.is_alive() and finished == []  # blocked on the camera's lock row
    release.set()
    holder.join(20), first.join(20), second.join(20)
    assert sorted(finished) == [0, 1]  # two concurrent evaluations: one incident
    connection.close()
    assert Incident.objects.filter(camera=camera).count() == 1
