"""The domain admin's pages: endpoints, actions, settings; other domains answer 404."""

from __future__ import annotations

import json

import pytest

from callbacks.models import Delivery, Endpoint
from domains import services
from domains.models import AuditEntry
from tests.receiver import wait_for
from tests.support.portal import confirmed_post


def post_endpoint(client, path, **overrides):
    data = {
        "method": "POST",
        "url": "https://hooks.acme.com/camio",
        "headers": '{"Authorization": "token S3CR3T", "Content-Type": "application/json"}',
        "event_types": ["camera.created", "zone.deleted"],
        "description": "HQ",
    }
    data.update(overrides)
    return client.post(path, data)


@pytest.mark.django_db
def test_find_opens_the_domain_page(acme_admin_client, acme):
    answer = acme_admin_client.get("/domains?domain=ACME.com")
    assert answer.status_code == 302 and answer["Location"] == "/domains/acme.com/"
    page = acme_admin_client.get("/domains/acme.com/").content.decode()
    assert "No endpoints yet" in page and "hq@acme.com" in page


@pytest.mark.django_db
def test_add_endpoint(acme_admin_client, acme, acme_admin):
    form = acme_admin_client.get("/domains/acme.com/endpoints/new").content.decode()
    assert "token XYZPDQ" in form  # the seed's example as placeholder
    assert "camera.created: A camera (video stream) was added" in form
    answer = post_endpoint(acme_admin_client, "/domains/acme.com/endpoints/new")
    assert answer.status_code == 302
    endpoint = Endpoint.objects.get()
    assert endpoint.domain == acme and endpoint.headers["Authorization"] == "token S3CR3T"
    assert AuditEntry.objects.get(action="endpoint.created").actor == acme_admin
    page = acme_admin_client.get("/domains/acme.com/").content.decode()
    # The URL on one line (an ellipsis when long), the whole of it on hover.
    assert 'title="POST https://hooks.acme.com/camio' in page and "S3CR3T" not in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"headers": '{"Authorization": 5}'},
            "The value of &#x27;Authorization&#x27; must be a string",
        ),
        ({"headers": "not json"}, "Headers are not valid JSON"),
        ({"headers": '{"webhook-id": "x"}'}, "is set by the portal"),
        ({"url": "ftp://x.com/"}, "must start with http:// or https://"),
        ({"url": "http://169.254.169.254/latest"}, "which callbacks may not reach"),
        ({"event_types": []}, "This field is required"),
    ],
)
def test_bad_input_is_shown_beside_the_field_and_kept(acme_admin_client, acme, overrides, message):
    answer = post_endpoint(acme_admin_client, "/domains/acme.com/endpoints/new", **overrides)
    page = answer.content.decode()
    assert answer.status_code == 400 and message in page
    assert "HQ" in page  # input kept
    assert not Endpoint.objects.exists()


@pytest.mark.django_db
def test_edit_keeps_masked_values(acme_admin_client, acme):
    post_endpoint(acme_admin_client, "/domains/acme.com/endpoints/new")
    endpoint = Endpoint.objects.get()
    path = f"/domains/acme.com/endpoints/{endpoint.endpoint_id}/edit"
    form = acme_admin_client.get(path).content.decode()
    assert "S3CR3T" not in form and "••••••" in form
    answer = post_endpoint(
        acme_admin_client, path, method="PUT", headers='{"Authorization": "••••••", "X-New": "1"}'
    )
    assert answer.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.method == "PUT"
    assert endpoint.headers == {"Authorization": "token S3CR3T", "X-New": "1"}


@pytest.mark.django_db
def test_disable_enable_delete(
    acme_admin_client, acme, acme_admin, box, django_capture_on_commit_callbacks
):
    post_endpoint(acme_admin_client, "/domains/acme.com/endpoints/new")
    endpoint = Endpoint.objects.get()
    base = f"/domains/acme.com/endpoints/{endpoint.endpoint_id}"
    with django_capture_on_commit_callbacks(execute=False):
        services.camera_create(owner=acme_admin, device=box, name="Cam")
    answer = confirmed_post(acme_admin_client, f"{base}/disable", follow=True)
    assert "1 pending delivery cancelled" in answer.content.decode()
    assert Delivery.objects.get().state == "cancelled"
    acme_admin_client.post(f"{base}/enable")
    endpoint.refresh_from_db()
    assert endpoint.enabled
    assert "Delete this endpoint?" in acme_admin_client.get(f"{base}/delete").content.decode()
    confirmed_post(acme_admin_client, f"{base}/delete")
    endpoint.refresh_from_db()
    assert endpoint.deleted_at is not None
    assert acme_admin_client.get(f"{base}/edit").status_code == 404


@pytest.mark.django_db
def test_settings(acme_admin_client, acme):
    acme_admin_client.post(
        "/domains/acme.com/settings", {"min_upload_queue_length_for_incident_creation": "40"}
    )
    acme.refresh_from_db()
    assert acme.min_upload_queue_length_for_incident_creation == 40
    answer = acme_admin_client.post(
        "/domains/acme.com/settings",
        {"min_upload_queue_length_for_incident_creation": "-1"},
        follow=True,
    )
    assert "greater than or equal to 0" in answer.content.decode()
    acme.refresh_from_db()
    assert acme.min_upload_queue_length_for_incident_creation == 40


@pytest.mark.django_db(transaction=True)
def test_send_test_event_and_see_the_result(client, worker, receiver, acme_admin, endpoint_for):
    client.force_login(acme_admin)
    endpoint = endpoint_for(receiver.url, ["camera.created"])
    answer = client.post(
        f"/domains/acme.com/endpoints/{endpoint.endpoint_id}/test", {"event_type": "zone.updated"}
    )
    assert answer.status_code == 302
    result_url = answer["Location"]
    summary = wait_for(
        lambda: (s := client.get(result_url + "?format=json").json())["state"] == "succeeded" and s,
        what="the test delivery",
    )
    assert summary["status"] == 200 and summary["response_excerpt"] == "ok"
    assert summary["duration_ms"] is not None
    assert "zone.updated" in client.get(result_url).content.decode()
    # P13: the body says it is a test too, and its ids are no real object's.
    [received] = receiver.received
    body = json.loads(received.body)
    assert (body["type"], body["test"], received.headers["camio-test"]) == (
        "zone.updated", True, "true")
    assert body["data"]["object"]["zone"]["zone_id"].startswith("test_")
    assert body["data"]["object"]["camera"]["camera_id"].startswith("test_")


@pytest.mark.django_db
def test_a_second_endpoint_to_the_same_url_warns(acme_admin_client, acme):
    post_endpoint(acme_admin_client, "/domains/acme.com/endpoints/new")
    first = acme_admin_client.get("/domains/acme.com/").content.decode()
    assert "already sends POST to this URL" not in first
    answer = post_endpoint(acme_admin_client, "/domains/acme.com/endpoints/new")
    page = acme_admin_client.get(answer["Location"]).content.decode()
    assert "Endpoint added." in page
    assert "already sends POST to this URL: events both subscribe to arrive there twice" in page


@pytest.mark.django_db
def test_removing_a_co_admin_asks_first(acme_admin_client, acme, acme_teammate):
    from domains import services as domain_services

    domain_services.domain_admin_add(domain=acme, user=acme_teammate, actor=None)
    page = acme_admin_client.get("/domains/acme.com/").content.decode()
    remove = f"/domains/acme.com/admins/{acme_teammate.user_id}/remove"
    assert f'<a href="{remove}">Remove…</a>' in page  # a link to its confirmation page
    asked = acme_admin_client.get(remove).content.decode()
    assert "Remove this admin?" in asked and acme_teammate.email in asked
    # The page's title is its title (the script is not pasted into it).
    assert "<title>acme.com" in page and "<script" not in page.split("</title>")[0]


@pytest.mark.django_db
def test_the_api_docs_page_has_a_way_back_the_release_and_endpoints_first(client):
    from importlib.metadata import version

    docs = client.get("/api/docs/").content.decode()
    assert "Back to the portal" in docs and 'href="/domains"' in docs
    schema = client.get("/api/schema/", {"format": "json"}).json()
    assert schema["info"]["version"] == version("camio-portal")
    assert [t["name"] for t in schema["tags"]][:3] == ["endpoints", "deliveries", "events"]
