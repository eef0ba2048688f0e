"""Every portal route with a domain or an object in it: an admin of another domain gets
404 and changes nothing. The route list comes from the URL resolver, so a new route
cannot skip this test."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from callbacks.models import Delivery, ReplayJob
from domains import services
from tests.support.isolation import portal_routes, state


@pytest.fixture
def acme_objects(
    endpoint_for, box, acme_admin, acme_teammate, acme, django_capture_on_commit_callbacks
):
    endpoint = endpoint_for("https://hooks.acme.com/", ["camera.created"])
    with django_capture_on_commit_callbacks(execute=False):
        camera = services.camera_create(owner=acme_admin, device=box, name="Cam")
    delivery = Delivery.objects.get()
    Delivery.objects.update(state="failed")
    services.domain_admin_add(domain=acme, user=acme_teammate, actor=acme_admin)
    job = ReplayJob.objects.create(
        endpoint=endpoint, start=timezone.now(), end=timezone.now() + datetime.timedelta(hours=1)
    )
    from pacs import services as pacs_services

    integration = pacs_services.integration_create(owner=acme_admin, vendor="onguard", name="HQ")
    pacs_services.devices_replace(integration=integration, devices=[{"device_id": "1_1"}])
    pacs_token, _ = pacs_services.integration_token_issue(integration=integration, actor=None)
    token, _ = services.token_issue(kind="user", user=acme_admin, name="ci", actor=None)
    return {
        "integration_id": integration.integration_id,
        "device_id": "1_1",
        "user_token_prefix": token.prefix,
        "prefix": pacs_token.prefix,
        "camera_id": camera.camera_id,
        "name": "acme.com",
        "endpoint_id": endpoint.endpoint_id,
        "delivery_id": str(delivery.pk),
        "job_id": job.job_id,
        "user_id": acme_teammate.user_id,
    }


@pytest.mark.django_db
def test_every_domain_route_is_closed_to_other_domains(client, acme_objects, beta_admin, beta):
    routes = portal_routes()
    assert len(routes) >= 15
    client.force_login(beta_admin)
    before = state()
    for name, pattern in routes:
        params = {}
        for part in pattern.split("<")[1:]:
            key = part.split(">")[0].split(":")[-1]
            assert key in acme_objects, f"route {name} has <{key}>: add it to acme_objects"
            params[key] = acme_objects[key]
        path = "/" + pattern
        for key, value in params.items():
            path = path.replace(f"<str:{key}>", value)
        for method in ("get", "post"):
            answer = getattr(client, method)(
                path, {"email": "it@beta.org", "action": "rotate", "event_type": "camera.created"}
            )
            assert answer.status_code in (404, 405), (name, method, answer.status_code)
            # Same ids under the other domain's own name: still 404.
            # (Routes with only the domain in them are beta's own pages there.)
            other = path.replace("/domains/acme.com/", "/domains/beta.org/")
            if set(params) != {"name"}:
                answer = getattr(client, method)(other, {"action": "rotate"})
                assert answer.status_code in (404, 405), (name, method, "beta")
    assert state() == before


@pytest.mark.django_db
def test_the_token_page_shows_only_your_own_tokens(client, acme_objects, beta_admin):
    client.force_login(beta_admin)
    page = client.get("/account/tokens").content.decode()
    assert acme_objects["user_token_prefix"] not in page
    pacs_page = client.get("/integrations/pacs").content.decode()
    assert acme_objects["integration_id"] not in pacs_page
