"""P9 (6): which counter reports are the same report. With a report_id: the same Box and
id. Without: the same Box, time and content, so a Box that posts each camera's report at
one time loses none; the migration fills in the content digest of stored reports."""

from __future__ import annotations

import datetime
import importlib
import json

import pytest
from django.apps import apps
from django.db import IntegrityError, transaction

from incidents import services
from incidents.models import CounterReport, Incident, report_digest
from tests.receiver import wait_for

pytestmark = pytest.mark.usefixtures("counter_rules")


NOW = datetime.datetime(2026, 11, 26, 12, 0, 0, 317000, tzinfo=datetime.UTC)


def restarts(camera, value: int = 47, at: datetime.datetime = NOW) -> dict:
    return {
        "time": at.isoformat(),
        "cameras": {camera.camera_id: {"segmentation_process_restart_count": value}},
        "box": {"upload_queue_length": 3},
    }


def url(box) -> str:
    return f"/api/devices/{box.device_id}/counters"


@pytest.mark.django_db(transaction=True)
def test_reports_of_one_time_for_two_cameras_both_open_their_incidents(
    worker, receiver, endpoint_for, box, camera, dock_camera, token_for, client_with
):
    endpoint_for(receiver.url, ["incident.created"])
    client = client_with(token_for(kind="box", device=box), "Bearer")
    now = datetime.datetime.now(datetime.UTC)
    first = client.post(url(box), restarts(camera, at=now))
    second = client.post(url(box), restarts(dock_camera, at=now))
    assert first.json() == {"accepted": [0], "duplicates": [], "rejected": []}
    assert second.json() == {"accepted": [0], "duplicates": [], "rejected": []}, second.json()
    wait_for(lambda: len(receiver.received) >= 2, timeout=30, what="two incident.created")
    cameras = {
        json.loads(r.body)["data"]["object"]["incident"]["camera_id"] for r in receiver.received
    }
    assert cameras == {camera.camera_id, dock_camera.camera_id}
    assert CounterReport.objects.count() == 2
    assert set(Incident.objects.values_list("camera", flat=True)) == {camera.pk, dock_camera.pk}


@pytest.mark.django_db
def test_the_same_report_sent_twice_is_one(box, camera, dock_camera):
    assert services.ingest_reports(device=box, reports=[restarts(camera)]).accepted == [0]
    again = services.ingest_reports(
        device=box, reports=[restarts(camera), restarts(dock_camera), restarts(dock_camera)]
    )
    assert again.duplicates == [0, 2] and again.accepted == [1]
    services.evaluate_reports(list(CounterReport.objects.values_list("pk", flat=True)))
    assert Incident.objects.filter(camera=camera).count() == 1
    assert Incident.objects.filter(camera=dock_camera).count() == 1


@pytest.mark.django_db
def test_other_counts_at_the_same_time_are_another_report(box, camera):
    services.ingest_reports(device=box, reports=[restarts(camera, 47)])
    assert services.ingest_reports(device=box, reports=[restarts(camera, 3)]).accepted == [0]
    assert CounterReport.objects.count() == 2


@pytest.mark.django_db
def test_a_report_id_again_is_a_duplicate_whatever_its_content(box, camera, dock_camera):
    first = {**restarts(camera), "report_id": "r-1042"}
    assert services.ingest_reports(device=box, reports=[first]).accepted == [0]
    other = {**restarts(dock_camera, 5, NOW + datetime.timedelta(minutes=1)), "report_id": "r-1042"}
    assert services.ingest_reports(device=box, reports=[other]).duplicates == [0]
    # Other ids at the same time and with the same content are other reports.
    ids = [{**restarts(camera), "report_id": f"r-{n}"} for n in (1043, 1044)]
    assert services.ingest_reports(device=box, reports=ids).accepted == [0, 1]
    assert CounterReport.objects.count() == 3


@pytest.mark.django_db
def test_a_camera_named_by_its_local_id_is_the_same_content(box, camera):
    services.ingest_reports(device=box, reports=[restarts(camera)])
    by_local_id = restarts(camera)
    by_local_id["cameras"] = {camera.local_camera_id: by_local_id["cameras"][camera.camera_id]}
    assert services.ingest_reports(device=box, reports=[by_local_id]).duplicates == [0]


@pytest.mark.django_db
def test_the_database_holds_one_report_per_time_and_content(box, camera, dock_camera):
    services.ingest_reports(device=box, reports=[restarts(camera), restarts(dock_camera)])
    row = CounterReport.objects.order_by("pk").first()
    copy = CounterReport(
        device=box,
        domain_id=row.domain_id,
        reported_at=row.reported_at,
        cameras=row.cameras,
        box=row.box,
        content_digest=row.content_digest,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        copy.save()
    copy.report_id = "r-1"  # with an id, only the id counts
    copy.save()


@pytest.mark.django_db
def test_the_migration_fills_in_the_content_digest(box, camera, dock_camera):
    services.ingest_reports(
        device=box, reports=[restarts(camera), {**restarts(dock_camera), "report_id": "r-9"}]
    )
    expected = dict(CounterReport.objects.values_list("pk", "content_digest"))
    CounterReport.objects.update(content_digest="")  # as the rows were before the migration
    migration = importlib.import_module("incidents.migrations.0005_backfill_report_content_digest")
    migration.backfill(apps, None)
    rows = CounterReport.objects.values_list("pk", "content_digest", "cameras", "box")
    assert {pk: digest for pk, digest, _, _ in rows} == expected
    assert all(digest == report_digest(cams, box_) for _, digest, cams, box_ in rows)
    assert services.ingest_reports(device=box, reports=[restarts(camera)]).duplicates == [0]
