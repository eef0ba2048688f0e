"""P16 (2): payload filters. An endpoint's filter is judged where deliveries are written: an
event it refuses makes no delivery row and costs no attempt (camio_deliveries_filtered_total
counts it); a malformed filter is refused on every path, naming the path and the
operator, and nothing is saved; a replay and its dry-run count apply the current filter,
test events and resends ignore it, and changing it cancels nothing queued."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone
from prometheus_client import REGISTRY

from callbacks import services as callbacks
from callbacks.filters import MATCH_SQL, clean_filter, compile_filter
from callbacks.models import Delivery, DeliveryState, Endpoint, Event
from callbacks.publishing import publish
from domains import services

ONGUARD = json.loads((Path(__file__).parent / "fixtures" / "pacs" / "onguard.json").read_text())
# The seed's pacs.events.created object (Lenel OnGuard), as the portal relays it.
SEED_PACS = {
    "user": {"user_id": "u123", "email": "test@acme.com"},
    "domain": "acme.com",
    "events": [{**ONGUARD["event"], "camio_metadata": {
        k: v for k, v in ONGUARD["expected_metadata"].items() if k != "source_server"}}],
    "source_server": "apac.int.acme.com:443",
}
LABEL_FILTER = {"data.object.events.camio_metadata.labels": "entry.ajar.started"}

# Ten malformed filters, and what the refusal must say of each.
MALFORMED = [
    ({"data.object.camera.name": {"$regex": "^Front"}}, "unknown operator $regex"),
    ({"$nor": [{"type": "camera.updated"}]}, "Unknown operator $nor"),
    ({"data..object": "x"}, "'data..object' is not a path"),
    ({"data.object[0].name": "x"}, "'data.object[0].name' is not a path"),
    ({"$not": {"$not": {"$not": {"$not": {"$not": {"type": "x"}}}}}}, "too deep"),
    ({"data.object.camera.camera_id": {"$in": ["c" * 40] * 100}}, "too large"),
    ({"data.object.incident.count": {"$gt": "5"}}, "At data.object.incident.count: $gt takes "
                                                  "a number"),
    ({"data.object.camera.camera_id": {"$in": "abc"}}, "$in takes a non-empty list"),
    ({"data.object.previous_attributes.name": {"$exists": "yes"}}, "$exists takes true or "
                                                                   "false"),
    ({"data.object.camera.name": ["Front", "Back"]}, "a list is not a value"),
]


def passes(filter_: dict, body: dict) -> bool:
    """What PostgreSQL says of ``body`` under ``filter_``, as publish asks it."""
    path, variables = compile_filter(clean_filter(filter_))
    sql = "SELECT " + MATCH_SQL.format(body="%s", path="%s", vars="%s")
    with connection.cursor() as cursor:
        cursor.execute(sql, [json.dumps(body).encode(), path, json.dumps(variables)])
        return cursor.fetchone()[0]


def filtered_total() -> float:
    return REGISTRY.get_sample_value("camio_deliveries_filtered_total") or 0.0


@pytest.mark.parametrize(("filter_", "said"), MALFORMED)
def test_a_malformed_filter_is_refused_naming_the_problem(filter_, said):
    with pytest.raises(ValidationError) as refused:
        clean_filter(filter_)
    assert said in refused.value.messages[0]


@pytest.mark.django_db
@pytest.mark.parametrize(("filter_", "body", "expected"), [
    ({"type": "camera.updated"}, {"type": "camera.updated"}, True),
    ({"type": "camera.updated"}, {"type": "camera.created"}, False),
    ({"a.b": {"$in": ["x", "y"]}}, {"a": {"b": "y"}}, True),
    ({"a.b": {"$in": ["x", "y"]}}, {"a": {"b": "z"}}, False),
    ({"a.b": {"$exists": True}}, {"a": {"b": None}}, True),
    ({"a.b": {"$exists": False}}, {"a": {"c": 1}}, True),
    ({"a.b": {"$exists": False}}, {"a": {"b": 1}}, False),
    ({"a.n": {"$gt": 2, "$lt": 5}}, {"a": {"n": 3}}, True),
    ({"a.n": {"$gt": 2, "$lt": 5}}, {"a": {"n": 5}}, False),
    ({"a.n": {"$gt": 2}}, {"a": {"n": "3"}}, False),  # a string is not a number
    # One element must pass every test: 1 is not > 2, 9 is not < 5.
    ({"a.n": {"$gt": 2, "$lt": 5}}, {"a": [{"n": 1}, {"n": 9}]}, False),
    ({"a.n": {"$gt": 2, "$lt": 5}}, {"a": [{"n": 1}, {"n": 4}]}, True),
    ({"a.s": {"$startsWith": "Front"}}, {"a": {"s": "Front door"}}, True),
    ({"a.s": {"$startsWith": "Front"}}, {"a": {"s": "Back door"}}, False),
    ({"a.tags": "red"}, {"a": {"tags": ["blue", "red"]}}, True),
    ({"$or": [{"a": 1}, {"b": 2}]}, {"b": 2}, True),
    ({"$and": [{"a": 1}, {"b": 2}]}, {"b": 2}, False),
    ({"$not": {"a": 1}}, {"a": 2}, True),
    ({"$not": {"a": 1}}, {"a": 1}, False),
    ({"a": True}, {"a": 1}, False),  # a boolean is not a number
    ({"a": None}, {"a": None}, True),
    ({"q": 'it\'s "quoted" $v0 || true'}, {"q": 'it\'s "quoted" $v0 || true'}, True),
    ({"q": 'x" || true'}, {"q": "y"}, False),  # a value is never read as path syntax
])
def test_postgresql_judges_each_operator(filter_, body, expected):
    assert passes(filter_, body) is expected


@pytest.mark.django_db
def test_the_pacs_label_filter_matches_the_seeds_onguard_payload(acme, endpoint_for):
    wanted = endpoint_for("https://hooks.acme.com/ajar", ["pacs.events.created"],
                          payload_filter=LABEL_FILTER)
    other = endpoint_for("https://hooks.acme.com/forced", ["pacs.events.created"],
                         payload_filter={"data.object.events.camio_metadata.labels":
                                         "entry.forced.started"})
    event = publish(domain=acme, type="pacs.events.created", object=SEED_PACS)
    [delivery] = Delivery.objects.filter(event=event)
    assert delivery.endpoint_id == wanted.pk and not other.deliveries.exists()
    # Delivered whole: the payload is never rewritten.
    assert json.loads(bytes(Event.objects.get(pk=event.pk).body))["data"]["object"] == SEED_PACS


@pytest.mark.django_db
def test_renaming_the_filtered_camera_delivers_and_another_makes_no_row(
    acme, acme_admin, box, endpoint_for
):
    x = services.camera_create(owner=acme_admin, device=box, name="Camera X")
    y = services.camera_create(owner=acme_admin, device=box, name="Camera Y")
    only_x = endpoint_for("https://hooks.acme.com/x", ["camera.updated"],
                          payload_filter={"data.object.camera.camera_id": {"$in": [x.camera_id]}})
    every = endpoint_for("https://hooks.acme.com/all", ["camera.updated"])
    before = filtered_total()
    services.camera_update(camera=x, actor=acme_admin, changes={"name": "Camera X2"})
    services.camera_update(camera=y, actor=acme_admin, changes={"name": "Camera Y2"})
    assert only_x.deliveries.count() == 1
    assert json.loads(bytes(only_x.deliveries.get().event.body))["data"]["object"]["camera"][
        "camera_id"] == x.camera_id
    assert every.deliveries.count() == 2
    assert filtered_total() - before == 1


@pytest.mark.django_db
def test_renames_only(acme, acme_admin, camera, endpoint_for):
    renames = endpoint_for("https://hooks.acme.com/renames", ["camera.updated"],
                           payload_filter={"data.object.previous_attributes.name":
                                           {"$exists": True}})
    services.camera_update(camera=camera, actor=acme_admin, changes={"ip_address": "10.0.0.9"})
    assert not renames.deliveries.exists()
    services.camera_update(camera=camera, actor=acme_admin, changes={"name": "Back Door"})
    assert renames.deliveries.count() == 1


@pytest.mark.django_db
def test_test_events_and_resends_ignore_the_filter_and_a_change_cancels_nothing(
    acme, acme_admin, box, endpoint_for
):
    x = services.camera_create(owner=acme_admin, device=box, name="Camera X")
    endpoint = endpoint_for("https://hooks.acme.com/x", ["camera.updated"],
                            payload_filter={"data.object.camera.camera_id": {"$in": [x.camera_id]}})
    services.camera_update(camera=x, actor=acme_admin, changes={"name": "Camera X2"})
    [queued] = endpoint.deliveries.all()
    callbacks.endpoint_update(endpoint=endpoint, actor=acme_admin,
                              changes={"payload_filter": {"data.object.camera.camera_id": "none"}})
    queued.refresh_from_db()
    assert queued.state == DeliveryState.PENDING  # nothing already queued is cancelled
    test = callbacks.send_test_event(endpoint=endpoint, event_type="camera.updated",
                                     actor=acme_admin)
    assert test.test and test.endpoint_id == endpoint.pk
    Delivery.objects.filter(pk=queued.pk).update(state=DeliveryState.FAILED)
    queued.refresh_from_db()
    resent = callbacks.delivery_resend(delivery=queued, actor=acme_admin)
    assert resent.endpoint_id == endpoint.pk and resent.event_id == queued.event_id


@pytest.mark.django_db
def test_replay_and_its_dry_run_apply_the_current_filter(acme, acme_admin, box, endpoint_for):
    x = services.camera_create(owner=acme_admin, device=box, name="Camera X")
    y = services.camera_create(owner=acme_admin, device=box, name="Camera Y")
    endpoint = endpoint_for("https://hooks.acme.com/x", ["camera.created", "camera.updated"])
    start = timezone.now() - datetime.timedelta(minutes=1)  # the creations too
    services.camera_update(camera=x, actor=acme_admin, changes={"name": "Camera X2"})
    services.camera_update(camera=y, actor=acme_admin, changes={"name": "Camera Y2"})
    end = timezone.now() + datetime.timedelta(minutes=1)
    Delivery.objects.filter(endpoint=endpoint).update(state=DeliveryState.SUCCEEDED)
    assert callbacks.replay_count(endpoint=endpoint, start=start, end=end, include_all=True) == 4
    endpoint = callbacks.endpoint_update(
        endpoint=endpoint, actor=acme_admin,
        changes={"payload_filter": {"data.object.camera.camera_id": y.camera_id,
                                    "type": "camera.updated"}})
    assert callbacks.replay_count(endpoint=endpoint, start=start, end=end, include_all=True) == 1
    job = callbacks.replay_start(endpoint=endpoint, start=start, end=end, include_all=True,
                                 actor=acme_admin)
    callbacks.replay_run(job_id=job.job_id)
    [replayed] = endpoint.deliveries.filter(replay=True)
    assert json.loads(bytes(replayed.event.body))["data"]["object"]["camera"]["camera_id"] == \
        y.camera_id


@pytest.mark.django_db
@pytest.mark.parametrize(("filter_", "said"), MALFORMED)
def test_the_api_refuses_a_malformed_filter_and_saves_nothing(api, filter_, said):
    answer = api.post("/api/endpoints", {"url": "https://hooks.acme.com/in",
                                         "event_types": ["camera.updated"], "filter": filter_},
                      format="json")
    assert answer.status_code == 422, answer.json()
    assert said in answer.json()["errors"]["filter"][0]
    assert not Endpoint.objects.exists()


@pytest.mark.django_db
def test_the_api_keeps_a_filter_and_takes_it_away(api):
    made = api.post("/api/endpoints", {"url": "https://hooks.acme.com/in",
                                       "event_types": ["pacs.events.created"],
                                       "filter": LABEL_FILTER}, format="json")
    assert made.status_code == 201, made.json()
    assert made.json()["filter"] == LABEL_FILTER
    endpoint = Endpoint.objects.get()
    assert endpoint.filter_path and endpoint.filter_vars == {"v0": "entry.ajar.started"}
    refused = api.patch(f"/api/endpoints/{endpoint.endpoint_id}", {"filter": "labels"},
                        format="json")
    assert refused.status_code == 422 and "JSON object" in refused.json()["errors"]["filter"][0]
    gone = api.patch(f"/api/endpoints/{endpoint.endpoint_id}", {"filter": None}, format="json")
    assert gone.status_code == 200 and gone.json()["filter"] is None
    endpoint.refresh_from_db()
    assert (endpoint.payload_filter, endpoint.filter_path) == (None, "")


def form_data(**extra) -> dict:
    return {"method": "POST", "url": "https://hooks.acme.com/in",
            "event_types": ["camera.updated"], "ordering": "none", **extra}


@pytest.mark.django_db
@pytest.mark.parametrize(("filter_", "said"), MALFORMED)
def test_the_form_refuses_a_malformed_filter_and_saves_nothing(
    acme_admin_client, acme, filter_, said
):
    answer = acme_admin_client.post(f"/domains/{acme.name}/endpoints/new",
                                    form_data(payload_filter=json.dumps(filter_)))
    assert answer.status_code == 400
    errors = answer.context["form"].errors["payload_filter"]
    assert said in errors[0]
    assert not Endpoint.objects.exists()


@pytest.mark.django_db
def test_the_forms_test_button_shows_which_recent_events_match_and_saves_nothing(
    acme_admin_client, acme, acme_admin, box
):
    x = services.camera_create(owner=acme_admin, device=box, name="Camera X")
    y = services.camera_create(owner=acme_admin, device=box, name="Camera Y")
    services.camera_update(camera=x, actor=acme_admin, changes={"name": "Camera X2"})
    services.camera_update(camera=y, actor=acme_admin, changes={"name": "Camera Y2"})
    answer = acme_admin_client.post(
        f"/domains/{acme.name}/endpoints/new",
        form_data(url="", action="test-filter", payload_filter=json.dumps(
            {"data.object.camera.camera_id": x.camera_id})))
    assert answer.status_code == 200
    preview = answer.context["preview"]
    assert [(item.summary, item.passes) for item in preview] == [
        ("camera Camera Y2", False), ("camera Camera X2", True)]
    assert "1 of the last 2 events of these types would be delivered" in answer.content.decode()
    assert not Endpoint.objects.exists()
    bad = acme_admin_client.post(f"/domains/{acme.name}/endpoints/new",
                                 form_data(action="test-filter", payload_filter="{"))
    assert bad.status_code == 400 and "not valid JSON" in bad.content.decode()
