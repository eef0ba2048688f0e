"""The API's resources: what each write changed and published, what each read shows,
and the one error format for bad input."""

from __future__ import annotations

import datetime
import json

import jsonschema
import pytest
from django.core.cache import cache
from django.utils import timezone

from callbacks import catalog
from callbacks.models import Delivery, DeliveryState, Endpoint, Event
from domains.models import AuditEntry, Camera, Device, Hook, Zone

pytestmark = pytest.mark.django_db


def errors(response) -> dict:
    assert list(response.json()) == ["errors"], response.json()
    return response.json()["errors"]


# --- Endpoints ----------------------------------------------------------------------


def test_create_answers_the_secret_and_masks_secret_headers(api_endpoint):
    stored = Endpoint.objects.get(endpoint_id=api_endpoint["endpoint_id"])
    assert api_endpoint["secret"] == stored.current_key().secret
    assert api_endpoint["secret"].startswith("whsec_")
    assert api_endpoint["headers"] == {"Authorization": "••••••", "X-Team": "ops"}
    assert stored.headers["Authorization"] == "token XYZPDQ"
    assert api_endpoint["domain"] == "acme.com" and api_endpoint["enabled"] is True


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({"url": "ftp://x.example", "event_types": ["camera.created"]}, "url", 400),
        ({"url": "https://x.example", "event_types": ["camera.exploded"]}, "event_types.0", 400),
        ({"url": "https://x.example", "event_types": []}, "event_types", 400),
        ({"event_types": ["camera.created"]}, "url", 400),
        (
            {"url": "https://x.example", "event_types": ["camera.created"], "method": "FETCH"},
            "method",
            400,
        ),
        (
            {"url": "https://x.example", "event_types": ["camera.created"], "headers": ["a"]},
            "headers",
            400,
        ),
        (
            {"url": "https://x.example", "event_types": ["camera.created"], "secret": "mine"},
            "secret",
            400,
        ),
        # Well-formed, refused by a rule: 422.
        (
            {"url": "https://x.example", "event_types": ["camera.created"], "domain": "beta.org"},
            "domain",
            422,
        ),
        (
            {"url": "https://x.example", "event_types": ["camera.created"],
             "headers": {"Host": "x.example"}},
            "headers",
            422,
        ),
    ],
)
def test_bad_endpoint_input_names_the_field_and_creates_nothing(api, beta, body, field, status):
    response = api.post("/api/endpoints", body)
    assert response.status_code == status
    assert field in errors(response), errors(response)
    assert not Endpoint.objects.exists()


def test_a_body_that_is_not_json_is_a_400(api):
    response = api.generic("POST", "/api/endpoints", "{nope", content_type="application/json")
    assert response.status_code == 400
    assert "JSON" in errors(response)["detail"][0]


def test_patch_changes_fields_and_keeps_masked_headers(api, api_endpoint):
    url = f"/api/endpoints/{api_endpoint['endpoint_id']}"
    response = api.patch(
        url,
        {"url": "https://new.acme.com/in", "headers": {"Authorization": "••••••", "X-Team": "sec"}},
    )
    assert response.status_code == 200, response.json()
    stored = Endpoint.objects.get(endpoint_id=api_endpoint["endpoint_id"])
    assert stored.url == "https://new.acme.com/in"
    assert stored.headers == {"Authorization": "token XYZPDQ", "X-Team": "sec"}
    assert AuditEntry.objects.filter(action="endpoint.updated").count() == 1
    bad = api.patch(url, {"url": "not a url"})
    assert bad.status_code == 400 and "url" in errors(bad)


def test_disable_enable_rotate_reveal(api, api_endpoint):
    url = f"/api/endpoints/{api_endpoint['endpoint_id']}"
    off = api.post(f"{url}/disable", {"reason": "maintenance"})
    assert off.json()["enabled"] is False and off.json()["disabled_reason"] == "maintenance"
    on = api.post(f"{url}/enable")
    assert on.json()["enabled"] is True
    rotated = api.post(f"{url}/rotate-secret").json()
    assert rotated["secret"] != api_endpoint["secret"]
    current, older = rotated["keys"]
    assert current["expires_at"] is None and older["expires_at"]
    assert api_endpoint["secret"] not in str(rotated)  # the older key's secret is not shown
    revealed = api.get(f"{url}/secret").json()
    assert revealed["secret"] == rotated["secret"] and revealed["keys"] == rotated["keys"]
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"endpoint.disabled", "endpoint.enabled", "endpoint.secret_rotated"} <= actions


def test_delete_hides_the_endpoint(api, api_endpoint):
    url = f"/api/endpoints/{api_endpoint['endpoint_id']}"
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404
    assert Endpoint.objects.get(endpoint_id=api_endpoint["endpoint_id"]).deleted_at is not None
    assert api.get("/api/endpoints").json()["results"] == []


def test_a_test_event_without_waiting_is_queued(api, api_endpoint):
    response = api.post(
        f"/api/endpoints/{api_endpoint['endpoint_id']}/test", {"event_type": "camera.deleted"}
    )
    assert response.status_code == 202
    delivery = Delivery.objects.get(pk=response.json()["id"])
    assert delivery.test and delivery.state == DeliveryState.PENDING
    assert json.loads(bytes(delivery.event.body))["type"] == "camera.deleted"
    bad = api.post(f"/api/endpoints/{api_endpoint['endpoint_id']}/test", {"event_type": "x"})
    assert bad.status_code == 400 and "event_type" in errors(bad)


def test_replay_counts_then_starts_a_job(api, api_endpoint, box, camera):
    url = f"/api/endpoints/{api_endpoint['endpoint_id']}/replay"
    Delivery.objects.update(state=DeliveryState.FAILED)  # in-progress ones are never replayed
    span = {
        "since": (timezone.now() - datetime.timedelta(hours=1)).isoformat(),
        "until": (timezone.now() + datetime.timedelta(minutes=1)).isoformat(),
        "include_all": True,
    }
    dry = api.post(url, {**span, "dry_run": True})
    assert dry.status_code == 200 and dry.json() == {"count": 1}  # the camera's camera.created
    job = api.post(url, span)
    assert job.status_code == 202 and job.json()["total"] == 1
    progress = api.get(f"/api/replays/{job.json()['job_id']}")
    assert progress.status_code == 200 and progress.json()["state"] == "queued"
    backwards = api.post(url, {**span, "since": span["until"], "until": span["since"]})
    assert backwards.status_code == 422 and "until" in errors(backwards)
    for bad in ({"since": "yesterday"}, {"until": "2026-11-26"}, {"include_all": "yes"}):
        answer = api.post(url, {**span, **bad})
        assert answer.status_code == 400 and set(errors(answer)) == set(bad), errors(answer)


# --- Events and deliveries ------------------------------------------------------------


def test_events_filter_paginate_and_show_their_deliveries(api, api_endpoint, box, camera):
    from domains import services

    for index in range(3):
        services.camera_create(owner=camera.owner, device=box, name=f"Cam {index}")
    page = api.get("/api/events?type=camera.created&limit=2").json()
    assert len(page["results"]) == 2 and page["next"]
    rest = api.get(page["next"]).json()
    ids = [e["id"] for e in page["results"] + rest["results"]]
    assert len(ids) == len(set(ids)) == 4
    assert api.get("/api/events?type=zone.created").json()["results"] == []
    future = (timezone.now() + datetime.timedelta(hours=1)).isoformat()
    assert api.get("/api/events", {"since": future}).json()["results"] == []
    detail = api.get(f"/api/events/{ids[0]}").json()
    assert detail["payload"]["type"] == "camera.created"
    assert [d["endpoint_id"] for d in detail["deliveries"]] == [api_endpoint["endpoint_id"]]
    bad = api.get("/api/events?since=yesterday")
    assert bad.status_code == 400 and "since" in errors(bad)


def test_deliveries_filter_show_attempts_and_resend(api, api_endpoint, camera):
    listing = api.get("/api/deliveries", {"endpoint": api_endpoint["endpoint_id"]}).json()
    [row] = listing["results"]
    assert row["state"] == "pending" and row["event_type"] == "camera.created"
    assert api.get("/api/deliveries?state=succeeded").json()["results"] == []
    detail = api.get(f"/api/deliveries/{row['id']}").json()
    assert detail["attempts"] == []
    Delivery.objects.filter(pk=row["id"]).update(state=DeliveryState.FAILED)
    again = api.post(f"/api/deliveries/{row['id']}/resend")
    assert again.status_code == 202 and again.json()["id"] != row["id"]
    assert Delivery.objects.filter(event_id=row["event_id"]).count() == 2
    assert api.get("/api/deliveries/not-a-uuid").status_code == 404


def test_an_unknown_query_parameter_is_a_400_naming_what_the_route_takes(api, api_endpoint):
    misspelt = api.get("/api/deliveries?stat=failed")
    assert misspelt.status_code == 400
    takes = "cursor, endpoint, limit, since, state, type, until"
    assert errors(misspelt) == {"stat": [f"Unknown query parameter; this route takes {takes}."]}
    assert api.get("/api/deliveries?state=failed").status_code == 200
    detail = api.get(f"/api/endpoints/{api_endpoint['endpoint_id']}?limit=1")
    assert detail.status_code == 400 and "takes no query parameters" in errors(detail)["limit"][0]
    test = f"/api/endpoints/{api_endpoint['endpoint_id']}/test?wait=false"
    waited = api.post(test, {"event_type": "camera.deleted"})
    assert waited.status_code == 202


def test_every_route_takes_the_query_parameters_its_schema_names(api, api_endpoint):
    """Each operation refuses a name the schema leaves out and takes each it states."""
    schema = api.get("/api/schema/?format=json").json()
    checked = 0
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method != "get" or "{" in path:
                continue
            parameters = operation.get("parameters", [])
            stated = sorted(p["name"] for p in parameters if p["in"] == "query")
            answer = api.get(path, {"not_a_parameter": "1"})
            assert answer.status_code == 400, path
            message = errors(answer)["not_a_parameter"][0]
            assert message.endswith(f"takes {', '.join(stated) or 'no query parameters'}."), path
            checked += 1
    assert checked >= 10


def test_event_types_carry_schemas_their_examples_meet(api):
    types = api.get("/api/event-types").json()
    assert [t["type"] for t in types] == [e.name for e in catalog.EVENT_TYPES]
    assert len(types) == 16  # the seed's 11 and 5 operational ones
    for entry in types:
        jsonschema.validate(
            {**entry["example"], "id": "3b7e1c52-2f7a-4c47-9a55-0c6d1f1f5e21"}, entry["schema"]
        )


# --- Domains, inventory, hooks ---------------------------------------------------------


def test_domain_setting_changes_and_is_audited(api, acme):
    response = api.patch(
        "/api/domains/acme.com", {"min_upload_queue_length_for_incident_creation": 150}
    )
    assert response.status_code == 200
    acme.refresh_from_db()
    assert acme.min_upload_queue_length_for_incident_creation == 150
    bad = api.patch("/api/domains/acme.com", {"min_upload_queue_length_for_incident_creation": -1})
    assert bad.status_code == 400
    assert "min_upload_queue_length_for_incident_creation" in errors(bad)
    assert AuditEntry.objects.filter(action="domain.updated").count() == 1


def test_devices_crud_publishes_device_deleted_with_its_cameras(api, acme_teammate):
    created = api.post(
        "/api/devices",
        {"name": "Dock Box", "mac_address": "aa-bb-cc-00-11-33", "owner": "guard@acme.com"},
    )
    assert created.status_code == 201, created.json()
    device = created.json()
    assert (
        device["mac_address"] == "AA:BB:CC:00:11:33"
        and device["owner"]["email"] == "guard@acme.com"
    )
    renamed = api.patch(f"/api/devices/{device['device_id']}", {"name": "Dock"})
    assert renamed.json()["name"] == "Dock"
    api.post("/api/cameras", {"name": "Dock Cam", "device_id": device["device_id"]})
    assert api.delete(f"/api/devices/{device['device_id']}").status_code == 204
    assert not Device.objects.filter(device_id=device["device_id"]).exists()
    types = list(Event.objects.order_by("created_at").values_list("type", flat=True))
    assert types == ["camera.created", "camera.deleted", "device.deleted"]


def test_inventory_refuses_others_and_nonsense(api, beta_admin, acme_admin):
    from domains import services

    beta_box = services.device_create(owner=beta_admin, name="Beta Box")
    response = api.post("/api/cameras", {"name": "Sneaky", "device_id": beta_box.device_id})
    assert response.status_code == 422 and "device_id" in errors(response)
    response = api.post("/api/devices", {"name": "Box", "owner": "it@beta.org"})
    assert response.status_code == 422 and "owner" in errors(response)
    # What the schema forbids is a 400: a bad pattern, a number for a name, an unknown field.
    for body, field in [
        ({"name": "Box", "mac_address": "not a mac"}, "mac_address"),
        ({"name": 5}, "name"),
        ({"name": "Box", "colour": "red"}, "colour"),
    ]:
        response = api.post("/api/devices", body)
        assert response.status_code == 400 and set(errors(response)) == {field}, errors(response)
    response = api.post("/api/cameras", {"name": "Cam", "device_id": "x", "ip_address": "a.b"})
    assert response.status_code == 400 and "ip_address" in errors(response)
    assert not Camera.objects.filter(domain__name="acme.com").exists()
    assert not Device.objects.filter(domain__name="acme.com").exists()


def test_zones_validate_polygons(api, camera):
    bad = api.post("/api/zones", {"name": "Door", "camera_id": camera.camera_id, "polygons": [[1]]})
    assert bad.status_code == 400 and "polygons" in errors(bad)
    good = api.post(
        "/api/zones",
        {"name": "Door", "camera_id": camera.camera_id, "polygons": [[[0, 0], [1, 0], [1, 1]]]},
    )
    assert good.status_code == 201, good.json()
    zone_id = good.json()["zone_id"]
    assert api.patch(f"/api/zones/{zone_id}", {"name": "Gate"}).json()["name"] == "Gate"
    assert api.delete(f"/api/zones/{zone_id}").status_code == 204
    assert not Zone.objects.exists()
    assert Event.objects.filter(type__startswith="zone.").count() == 3


def test_hooks_are_the_callers_own(api, acme_teammate, acme_admin, token_for, client_with):
    guard = client_with(token_for(acme_teammate))
    body = {
        "callback_url": "https://hooks.acme.com/x",
        "type": "label_hit",
        "parsed_query": "labels in ['person']",
    }
    hook_id = guard.post("/api/users/me/hooks", body).json()["hook_id"]
    assert [h["hook_id"] for h in guard.get("/api/users/me/hooks").json()["results"]] == [hook_id]
    assert api.get("/api/users/me/hooks").json()["results"] == []
    assert api.get(f"/api/users/me/hooks/{hook_id}").status_code == 404
    assert api.delete(f"/api/users/me/hooks/{hook_id}").status_code == 404
    assert guard.delete(f"/api/users/me/hooks/{hook_id}").status_code == 204
    assert not Hook.objects.exists()
    assert list(Event.objects.values_list("type", flat=True).order_by("created_at")) == [
        "hook.created",
        "hook.deleted",
    ]


@pytest.mark.parametrize(
    ("change", "field", "status"),
    [
        ({"callback_url": "mailto:x@acme.com"}, "callback_url", 400),
        ({"type": "psychic"}, "type", 400),
        ({"parsed_query": "camera === 'x'"}, "parsed_query", 422),  # the schema cannot say
    ],
)
def test_bad_hooks_name_the_field(api, change, field, status):
    body = {
        "callback_url": "https://hooks.acme.com/x",
        "type": "query_match",
        "parsed_query": "camera == 'Front Entrance'",
        **change,
    }
    response = api.post("/api/users/me/hooks", body)
    assert response.status_code == status and field in errors(response), response.json()
    assert not Hook.objects.exists() and not Event.objects.exists()


# --- Throttling ------------------------------------------------------------------------


def test_throttling_answers_429_with_retry_after(api, settings):
    settings.API_THROTTLE_RATES = {"user": "2/minute", "anon": None}
    cache.clear()
    assert api.get("/api/users/me").status_code == 200
    assert api.get("/api/users/me").status_code == 200
    third = api.get("/api/users/me")
    assert third.status_code == 429
    assert int(third.headers["Retry-After"]) > 0
    assert errors(third)["detail"][0].startswith(
        "Too many requests: at most 2 per minute (API_THROTTLE_USER). Retry in ")
    cache.clear()


def test_nul_characters_are_refused_before_the_database(api, box, token_for, client_with):
    answer = api.post("/api/devices", {"name": "Box\u0000"})
    assert answer.status_code == 400 and "NUL" in errors(answer)["detail"][0]
    gateway = client_with(token_for(kind="box", device=box), "Bearer")
    answer = gateway.post(
        f"/api/devices/{box.device_id}/counters",
        {"time": "2026-11-26T12:00:00Z", "box": {"x\u0000": 1}},
    )
    assert answer.status_code == 400 and "NUL" in errors(answer)["detail"][0]
    assert api.post("/api/devices", {"name": "Box"}).status_code == 201
