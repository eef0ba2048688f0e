"""Support staff's endpoint, event and delivery admin: writes go through services."""

import datetime
import json

import pytest
from django.utils import timezone

from callbacks.models import Delivery, Endpoint, Event, ReplayJob
from domains import services
from domains.models import AuditEntry
from tests.support.portal import admin_action


def endpoint_post(acme, **overrides):
    data = {
        "domain": acme.pk,
        "method": "PUT",
        "url": "https://hooks.acme.com/camio",
        "event_types": ["camera.created", "zone.created"],
        "description": "",
        "headers_json": '{"Authorization": "token S3CR3T"}',
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
def test_create_endpoint_in_admin(support_client, acme, support):
    answer = support_client.post("/admin/callbacks/endpoint/add/", endpoint_post(acme))
    assert answer.status_code == 302
    endpoint = Endpoint.objects.get()
    assert endpoint.method == "PUT" and endpoint.headers == {"Authorization": "token S3CR3T"}
    assert AuditEntry.objects.get(action="endpoint.created").actor == support


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"headers_json": '{"Host": "evil"}'}, "is set by the portal"),
        ({"headers_json": "[1, 2]"}, "must be a JSON object"),
        ({"url": "http://192.168.0.10/"}, "which callbacks may not reach"),
        ({"event_types": []}, "This field is required"),
    ],
)
def test_admin_shows_endpoint_errors(support_client, acme, overrides, message):
    answer = support_client.post("/admin/callbacks/endpoint/add/", endpoint_post(acme, **overrides))
    assert answer.status_code == 200
    assert message in answer.content.decode()
    assert not Endpoint.objects.exists()


@pytest.mark.django_db
def test_edit_keeps_masked_header_values(support_client, acme):
    support_client.post("/admin/callbacks/endpoint/add/", endpoint_post(acme))
    endpoint = Endpoint.objects.get()
    page = support_client.get(f"/admin/callbacks/endpoint/{endpoint.pk}/change/").content.decode()
    assert "S3CR3T" not in page
    answer = support_client.post(
        f"/admin/callbacks/endpoint/{endpoint.pk}/change/",
        endpoint_post(acme, headers_json='{"Authorization": "••••••", "X-Extra": "1"}'),
    )
    assert answer.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.headers == {"Authorization": "token S3CR3T", "X-Extra": "1"}


@pytest.mark.django_db
def test_disable_action_and_search_by_webhook_id(
    support_client, acme, endpoint_for, box, acme_admin, django_capture_on_commit_callbacks
):
    endpoint = endpoint_for("https://hooks.acme.com/", ["camera.created"])
    with django_capture_on_commit_callbacks(execute=False):
        services.camera_create(owner=acme_admin, device=box, name="Cam")
    event = Event.objects.get()
    found = support_client.get("/admin/callbacks/delivery/", {"q": str(event.id)}).content.decode()
    assert "camera.created" in found
    assert str(Delivery.objects.get().pk) in found
    assert (
        str(event.id)
        in support_client.get("/admin/callbacks/event/", {"q": str(event.id)}).content.decode()
    )
    with django_capture_on_commit_callbacks(execute=True):
        admin_action(support_client, "/admin/callbacks/endpoint/", "disable", [endpoint.pk],
                     confirm=True)
    endpoint.refresh_from_db()
    assert not endpoint.enabled and Delivery.objects.get().state == "cancelled"


@pytest.mark.django_db
def test_backlog_and_replay_pages(
    support_client, acme, endpoint_for, box, acme_admin, django_capture_on_commit_callbacks
):
    endpoint = endpoint_for("https://hooks.acme.com/", ["camera.created"])
    with django_capture_on_commit_callbacks(execute=False):
        services.camera_create(owner=acme_admin, device=box, name="Cam")
    backlog = support_client.get("/admin/callbacks/delivery/backlog/").content.decode()
    assert "Pending deliveries" in backlog and "never: is beat running?" in backlog
    Delivery.objects.update(state="failed")
    window = {
        "start": (timezone.now() - datetime.timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S"),
        "end": (timezone.now() + datetime.timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S"),
    }
    url = f"/admin/callbacks/delivery/replay/{endpoint.endpoint_id}/"
    counted = support_client.post(url, {**window, "count": "1"}).content.decode()
    assert "<strong>1</strong> event(s) would be sent" in counted
    with django_capture_on_commit_callbacks(execute=False):
        support_client.post(url, {**window, "confirm": "1"})
    assert ReplayJob.objects.get().total == 1
    jobs = support_client.get("/admin/callbacks/replayjob/").content.decode()
    assert "0 / 1" in jobs
    assert url in support_client.get("/admin/callbacks/endpoint/").content.decode()


@pytest.mark.django_db
def test_event_payload_is_shown(
    support_client, acme, endpoint_for, box, acme_admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        camera = services.camera_create(owner=acme_admin, device=box, name="Shown")
    event = Event.objects.get()
    page = support_client.get(f"/admin/callbacks/event/{event.pk}/change/").content.decode()
    assert camera.camera_id in page
    assert json.loads(bytes(event.body))["data"]["object"]["camera"]["name"] == "Shown"


@pytest.mark.django_db
def test_hook_admin_goes_through_services(
    support_client, acme_admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        answer = support_client.post(
            "/admin/domains/hook/add/",
            {
                "type": "label_hit",
                "callback_url": "https://hooks.acme.com/x",
                "parsed_query": "labels in ['person']",
                "owner": acme_admin.pk,
            },
        )
    assert answer.status_code == 302
    assert Event.objects.get().type == "hook.created"
    bad = support_client.post(
        "/admin/domains/hook/add/",
        {
            "type": "label_hit",
            "callback_url": "https://hooks.acme.com/x",
            "parsed_query": "labels in ['person'] and",
            "owner": acme_admin.pk,
        },
    )
    assert "Expected a field or a value" in bad.content.decode()
