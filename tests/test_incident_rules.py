"""Counter rules and their evaluation: windows, cooldowns, order, Box queues, idempotence,
history, and rules changed by support."""

from __future__ import annotations

import datetime
import json

import pytest
from django.urls import reverse

from callbacks.models import Event
from domains import services as domain_services
from incidents import services
from incidents.models import CounterReport, CounterRule, Incident

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("counter_rules", "incident_max_age_ten_years"),
]


T0 = datetime.datetime(2026, 11, 26, 12, 0, tzinfo=datetime.UTC)


def report(box, at, cameras=None, boxes=None, report_id=""):
    body = {"time": at.isoformat(), "cameras": cameras or {}, "box": boxes or {}}
    if report_id:
        body["report_id"] = report_id
    result = services.ingest_reports(device=box, reports=[body])
    assert not result.rejected, result.rejected
    return result.report_ids


def restarts(box, camera, minutes, value):
    return report(
        box,
        T0 + datetime.timedelta(minutes=minutes),
        {camera.camera_id: {"segmentation_process_restart_count": value}},
    )


def incidents_of(camera):
    return list(Incident.objects.filter(camera=camera).order_by("date"))


def evaluate(*id_lists):
    for ids in id_lists:
        services.evaluate_reports(ids)


def test_sixteen_restarts_in_one_report_trip(box, camera):
    evaluate(restarts(box, camera, 0, 16))
    [incident] = incidents_of(camera)
    event = incident.counter_events["segmentation_process_restart_count"]
    assert event["value"] == 16
    assert event["description"].startswith("16 > 15 means the network connection")


def test_fifteen_do_not(box, camera):
    evaluate(restarts(box, camera, 0, 15))
    assert incidents_of(camera) == []


@pytest.mark.parametrize(("gap", "trips"), [(14, True), (16, False)])
@pytest.mark.parametrize("order", ["in order", "out of order"])
def test_two_reports_of_eight_trip_only_within_fifteen_minutes(box, camera, gap, trips, order):
    first, second = (0, gap) if order == "in order" else (gap, 0)
    evaluate(restarts(box, camera, first, 8))
    evaluate(restarts(box, camera, second, 8))
    found = incidents_of(camera)
    if trips:
        [incident] = found
        assert incident.date == T0 + datetime.timedelta(minutes=gap)  # the later report's time
        assert incident.counter_events["segmentation_process_restart_count"]["value"] == 16
    else:
        assert found == []


def test_a_trip_does_not_repeat_inside_the_cooldown(box, camera):
    evaluate(restarts(box, camera, 0, 20))
    evaluate(restarts(box, camera, 5, 20))  # 5 min later: quiet
    evaluate(restarts(box, camera, 14, 20))  # still inside 15 min
    evaluate(restarts(box, camera, 16, 20))  # past the cooldown: trips again
    assert [i.date for i in incidents_of(camera)] == [T0, T0 + datetime.timedelta(minutes=16)]


def test_counters_of_one_camera_in_one_report_make_one_incident(box, camera):
    evaluate(
        report(
            box,
            T0,
            {
                camera.camera_id: {
                    "stream_changed_offline_count": 2,
                    "movies_purged_count": 1,
                    "events_purged_count": 0,
                    "unknown_new_counter": 9,
                }
            },
        )
    )
    [incident] = incidents_of(camera)
    assert sorted(incident.counter_events) == [
        "movies_purged_count",
        "stream_changed_offline_count",
    ]
    assert incident.counter_events["stream_changed_offline_count"]["description"].startswith(
        "2 > 0 means"
    )


def test_cameras_are_addressed_by_local_id_too(box, camera):
    evaluate(report(box, T0, {camera.local_camera_id: {"movies_discarded_count": 3}}))
    assert incidents_of(camera)[0].counter_events["movies_discarded_count"]["value"] == 3


@pytest.mark.parametrize(("minimum", "opens"), [(100, True), (200, False), (None, False)])
def test_upload_queue_length_against_the_domain_minimum(box, acme, minimum, opens):
    domain_services.domain_update(
        domain=acme, actor=None, min_upload_queue_length_for_incident_creation=minimum
    )
    evaluate(report(box, T0, boxes={"upload_queue_length": 150}))
    found = list(Incident.objects.filter(device=box, camera=None))
    assert len(found) == (1 if opens else 0)
    if opens:
        payload = json.loads(bytes(Event.objects.get(type="incident.created").body))
        body = payload["data"]["object"]["incident"]
        assert body["box_mac_address"] == "AA:BB:CC:00:11:22"
        assert body["counter_events"]["upload_queue_length"]["description"].startswith("150 > 100")


def test_evaluating_a_report_twice_opens_one_incident(box, camera):
    ids = restarts(box, camera, 0, 30)
    evaluate(ids)
    CounterReport.objects.update(evaluated_at=None)  # as if a second task ran it again
    evaluate(ids)
    assert len(incidents_of(camera)) == 1
    assert Event.objects.filter(type="incident.created").count() == 1


def test_old_reports_are_judged_but_publish_nothing(box, camera, settings):
    settings.INCIDENT_MAX_AGE = 3600
    two_hours_ago = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=2)
    evaluate(report(box, two_hours_ago, {camera.camera_id: {"movies_purged_count": 4}}))
    [incident] = incidents_of(camera)
    assert incident.historical and incident.event_id is None
    assert not Event.objects.filter(type="incident.created").exists()


def test_recent_incidents_publish_incident_created(box, camera):
    evaluate(restarts(box, camera, 0, 30))
    [incident] = incidents_of(camera)
    event = Event.objects.get(type="incident.created")
    assert incident.event_id == event.id and not incident.historical


def test_a_rule_changed_in_the_admin_changes_the_next_evaluation(client, support, box, camera):
    rule = CounterRule.objects.get(counter="segmentation_process_restart_count")
    client.force_login(support)
    form = {
        "counter": rule.counter,
        "scope": rule.scope,
        "enabled": "on",
        "comparison": "gt",
        "threshold": 40,
        "window_seconds": 900,
        "cooldown_seconds": 900,
        "description": rule.description,
    }
    answer = client.post(reverse("admin:incidents_counterrule_change", args=[rule.pk]), form)
    assert answer.status_code == 302, answer.content[:1000]
    evaluate(restarts(box, camera, 0, 30))
    assert incidents_of(camera) == []
    evaluate(restarts(box, camera, 5, 20))  # 50 in the window > 40
    [incident] = incidents_of(camera)
    assert incident.counter_events["segmentation_process_restart_count"]["description"].startswith(
        "50 > 40"
    )


def test_reset_to_defaults(support):
    CounterRule.objects.filter(counter="movies_purged_count").update(threshold=99, enabled=False)
    services.rules_reset(actor=support)
    rule = CounterRule.objects.get(counter="movies_purged_count")
    assert rule.threshold == 0 and rule.enabled


def test_the_sweeper_evaluates_reports_whose_task_was_lost(box, camera, settings):
    settings.INCIDENT_SWEEP_AFTER = 0
    restarts(box, camera, 0, 30)  # stored, never evaluated (no worker here)
    assert services.evaluate_unevaluated() == 1
    assert len(incidents_of(camera)) == 1
    assert services.evaluate_unevaluated() == 0


def test_retention_drops_old_reports_but_keeps_incidents_and_minutes(box, camera):
    from incidents.models import CounterMinute, CounterSample

    evaluate(restarts(box, camera, 0, 30))
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=8)
    assert services.retention_purge(now=later) == {"reports": 1, "minutes": 0}
    assert not CounterReport.objects.exists() and not CounterSample.objects.exists()
    assert len(incidents_of(camera)) == 1 and CounterMinute.objects.count() == 1
    much_later = later + datetime.timedelta(days=90)
    assert services.retention_purge(now=much_later)["minutes"] == 1


def test_a_box_counter_reported_under_a_camera_opens_nothing(box, camera, acme):
    domain_services.domain_update(
        domain=acme, actor=None, min_upload_queue_length_for_incident_creation=100
    )
    evaluate(report(box, T0, {camera.camera_id: {"upload_queue_length": 150}}))
    assert not Incident.objects.exists()


def test_a_later_report_not_yet_evaluated_is_judged_by_its_own_evaluation(box, camera):
    later = report(
        box,
        T0 + datetime.timedelta(minutes=14),
        {
            camera.camera_id: {
                "segmentation_process_restart_count": 8,
                "stream_changed_offline_count": 1,
            }
        },
    )
    evaluate(restarts(box, camera, 0, 8))  # the later one is stored, not yet evaluated
    assert incidents_of(camera) == []
    evaluate(later)
    [incident] = incidents_of(camera)
    assert sorted(incident.counter_events) == [
        "segmentation_process_restart_count",
        "stream_changed_offline_count",
    ]
    assert incident.counter_events["segmentation_process_restart_count"]["value"] == 16


@pytest.mark.django_db
def test_descriptions_agree_with_their_numbers(counter_rules):
    offline = CounterRule.objects.get(counter="stream_changed_offline_count")
    assert "went offline 1 time since" in offline.describe(1, 0)
    assert "went offline 3 times since" in offline.describe(3, 0)
    restarts = CounterRule.objects.get(counter="segmentation_process_restart_count")
    assert restarts.describe(47, 15).endswith("it restarted 47 times in 15 minutes.")
    purged = CounterRule.objects.get(counter="events_purged_count")
    assert "means 1 detected event was purged" in purged.describe(1, 0)
    for rule in CounterRule.objects.all():
        assert " 1 times" not in rule.describe(1, 0) and "{" not in rule.describe(1, 0)
