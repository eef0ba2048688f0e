"""POST /api/devices/{device_id}/counters: tokens, answers, caps, bad reports named,
duplicates acknowledged, good reports kept, nothing half-written."""

from __future__ import annotations

import datetime
import json

import pytest

from domains import services as domain_services
from domains.models import ApiToken
from incidents.models import CounterReport, CounterSample

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("counter_rules")]


NOW = datetime.datetime(2026, 11, 26, 12, 0, tzinfo=datetime.UTC)


def url(box) -> str:
    return f"/api/devices/{box.device_id}/counters"


def good(camera, minutes: int = 0, **counters) -> dict:
    return {
        "time": (NOW + datetime.timedelta(minutes=minutes)).isoformat(),
        "cameras": {camera.camera_id: counters or {"movies_purged_count": 0}},
        "box": {"upload_queue_length": 3, "movie_upload_queue_commands_total_priority_2": 1},
    }


def test_a_single_report_is_stored_with_its_non_zero_samples(box_client, box, camera):
    body = good(
        camera,
        segmentation_process_restart_count=47,
        stream_changed_offline_count=0,
        brand_new_counter=5,
    )
    answer = box_client.post(url(box), body)
    assert answer.status_code == 202, answer.json()
    assert answer.json() == {"accepted": [0], "duplicates": [], "rejected": []}
    stored = CounterReport.objects.get()
    assert stored.reported_at == NOW
    assert stored.cameras[str(camera.pk)]["brand_new_counter"] == 5  # unknown: stored
    samples = dict(CounterSample.objects.values_list("counter", "value"))
    assert samples == {
        "segmentation_process_restart_count": 47,
        "brand_new_counter": 5,
        "upload_queue_length": 3,
        "movie_upload_queue_commands_total_priority_2": 1,
    }


def test_the_same_report_twice_is_a_duplicate(box_client, box, camera):
    body = {**good(camera, movies_purged_count=2), "report_id": "r-1"}
    assert box_client.post(url(box), body).json()["accepted"] == [0]
    again = box_client.post(url(box), body)
    assert again.status_code == 202
    assert again.json() == {"accepted": [], "duplicates": [0], "rejected": []}
    same_id_other_time = {**good(camera, 1), "report_id": "r-1"}
    assert box_client.post(url(box), same_id_other_time).json()["duplicates"] == [0]
    assert CounterReport.objects.count() == 1


def test_a_batch_with_three_bad_reports_keeps_the_997_good_ones(box_client, box, camera):
    reports = [good(camera, minutes=i) for i in range(1000)]
    reports[10]["time"] = "2026-11-26T12:00:00"  # naive
    reports[500]["cameras"][camera.camera_id] = {"movies_purged_count": -1}
    reports[999]["time"] = "yesterday"
    answer = box_client.post(url(box), {"reports": reports})
    assert answer.status_code == 202
    body = answer.json()
    assert [r["index"] for r in body["rejected"]] == [10, 500, 999]
    assert "offset" in body["rejected"][0]["errors"]["time"][0]
    assert f"cameras.{camera.camera_id}.movies_purged_count" in body["rejected"][1]["errors"]
    assert len(body["accepted"]) == 997 and body["duplicates"] == []
    assert CounterReport.objects.count() == 997


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"time": "2026-11-26T12:00:00"}, "time"),
        ({"time": "not a time"}, "time"),
        ({"time": 1700000000}, "time"),
        ({"box": {"upload_queue_length": 1.5}}, "box.upload_queue_length"),
        ({"box": {"upload_queue_length": "7"}}, "box.upload_queue_length"),
        ({"box": {"upload_queue_length": -3}}, "box.upload_queue_length"),
        ({"box": [1, 2]}, "box"),
        ({"color": "red"}, "color"),
    ],
)
def test_a_bad_report_alone_is_a_422_naming_the_field(box_client, box, camera, change, field):
    """Each report is judged alone: when none is stored, the batch answer comes as a 422."""
    answer = box_client.post(url(box), {**good(camera), **change})
    assert answer.status_code == 422
    [rejected] = answer.json()["rejected"]
    assert rejected["index"] == 0 and field in rejected["errors"], rejected
    assert not CounterReport.objects.exists()


def test_a_camera_of_another_box_is_refused(box_client, box, camera, acme_admin):
    other_box = domain_services.device_create(owner=acme_admin, name="Dock Box")
    other_camera = domain_services.camera_create(owner=acme_admin, device=other_box, name="Dock")
    answer = box_client.post(
        url(box), {"time": NOW.isoformat(), "cameras": {other_camera.camera_id: {"x_count": 1}}}
    )
    assert answer.status_code == 422
    assert f"cameras.{other_camera.camera_id}" in answer.json()["rejected"][0]["errors"]


def test_credentials(box, camera, token_for, client_with, acme_admin):
    body = good(camera)
    assert client_with(None).post(url(box), body).status_code == 401
    assert client_with("cpb_wrong", "Bearer").post(url(box), body).status_code == 401
    user_token = client_with(token_for(acme_admin)).post(url(box), body)
    assert (
        user_token.status_code == 403 and "user token" in user_token.json()["errors"]["detail"][0]
    )
    other_box = domain_services.device_create(owner=acme_admin, name="Dock Box")
    other = client_with(token_for(kind="box", device=other_box), "Bearer").post(url(box), body)
    assert other.status_code == 404  # another Box's id answers as an unknown one
    raw = token_for(kind="box", device=box)
    ApiToken.objects.filter(prefix=raw[:12]).update(revoked_at=NOW)
    assert client_with(raw, "Bearer").post(url(box), body).status_code == 401
    assert (
        client_with(token_for(kind="box", device=box), "Bearer")
        .post("/api/devices/NOSUCHBOX/counters", body)
        .status_code
        == 404
    )
    assert not CounterReport.objects.exists()


def test_oversize_batches_answer_413(box_client, box, camera, settings):
    answer = box_client.post(url(box), {"reports": [good(camera, i) for i in range(1001)]})
    assert answer.status_code == 413 and "1000" in answer.json()["errors"]["detail"][0]
    settings.INCIDENT_MAX_BODY_BYTES = 100
    answer = box_client.post(url(box), good(camera))
    assert answer.status_code == 413
    assert not CounterReport.objects.exists()


def test_the_box_throttle_counts_reports_not_only_requests(box_client, box, camera, settings):
    """P21 (3): 10 reports a minute: two requests of 4 pass, a third of 4 is refused whole
    (429, Retry-After, the limit and its setting named), and one of 2 still fits."""
    from django.core.cache import cache

    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "box_reports": "10/minute"}
    cache.clear()
    batches = [{"reports": [good(camera, 10 * b + i) for i in range(n)]}
               for b, n in enumerate((4, 4, 4, 2))]
    answers = [box_client.post(url(box), body) for body in batches]
    assert [a.status_code for a in answers] == [202, 202, 429, 202]
    assert int(answers[2].headers["Retry-After"]) > 0
    assert answers[2].json()["errors"]["detail"][0].startswith(
        "Too many counter reports from this Box: at most 10 per minute "
        "(API_THROTTLE_BOX_REPORTS).")
    assert CounterReport.objects.count() == 10
    cache.clear()


def test_bodies_that_are_not_reports(box_client, box, camera):
    """400: the body is neither one report nor {"reports": [...]} (a bare list is neither)."""
    for body, field in [
        ({"reports": []}, "reports"),
        ([], "reports"),
        ("x", "reports"),
        ([good(camera)], "reports"),
        ({"reports": [good(camera)], "x": 1}, "x"),
    ]:
        answer = box_client.post(url(box), json.dumps(body), content_type="application/json")
        assert answer.status_code == 400 and set(answer.json()["errors"]) == {field}, body
    assert not CounterReport.objects.exists()
    answer = box_client.generic("POST", url(box), "{", content_type="application/json")
    assert answer.status_code == 400


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"time": "2026-11-26T12:00:00Z", "report_id": "\\ud800"}', "surrogate"),
        ("[" * 100_000 + "]" * 100_000, "deeply"),
    ],
)
def test_unstorable_text_and_absurd_nesting_are_400s(box_client, box, body, message):
    answer = box_client.generic("POST", url(box), body, content_type="application/json")
    assert answer.status_code == 400 and message in answer.json()["errors"]["detail"][0]


def test_values_beyond_any_real_delta_are_refused(box_client, box, camera):
    answer = box_client.post(url(box), {**good(camera), "box": {"upload_queue_length": 2**40}})
    assert answer.status_code == 422
    assert "too large" in answer.json()["rejected"][0]["errors"]["box.upload_queue_length"][0]
