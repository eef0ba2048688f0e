"""P21 (4): an update or delete racing a delete of the same row answers 404 in the API and
a message in the admin and the portal, never a 500, and changes nothing."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages

from callbacks.models import Endpoint
from domains import services
from domains.models import Camera, Device, Zone
from tests.support.races import admin_form, racing_a_delete

pytestmark = pytest.mark.django_db(transaction=True)

GONE = "was deleted meanwhile (by another request); nothing was changed."
KINDS = {"zone": (Zone, "zones", "zone_id"), "camera": (Camera, "cameras", "camera_id"),
         "device": (Device, "devices", "device_id")}


def target(kind, zone, box, acme_admin):
    """The row a test races: the zone, or a camera or Box with nothing hanging on it."""
    if kind == "zone":
        return zone
    if kind == "camera":
        return services.camera_create(owner=acme_admin, device=box, name="Spare Camera")
    return services.device_create(owner=acme_admin, name="Spare Box")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["patch", "delete"])
def test_the_api_answers_404_when_the_row_goes_while_it_waits(
    kind, method, zone, box, acme_admin, token_for, client_with
):
    model, plural, public = KINDS[kind]
    row = target(kind, zone, box, acme_admin)
    api = client_with(token_for(acme_admin))
    url = f"/api/{plural}/{getattr(row, public)}"
    send = getattr(api, method)
    answer = racing_a_delete(model._meta.db_table, row.pk,
                             lambda: send(url, {"name": "Renamed"}, format="json"))
    assert answer.status_code == 404, answer.content
    assert answer.json()["errors"]["detail"][0].endswith(GONE)
    assert not model.objects.filter(pk=row.pk).exists()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("action", ["change", "delete"])
def test_the_admin_says_so_and_goes_back_when_the_row_goes_while_it_waits(
    kind, action, zone, box, acme_admin, support, client
):
    model, _, _ = KINDS[kind]
    row = target(kind, zone, box, acme_admin)
    client.force_login(support)
    url = f"/admin/domains/{model._meta.model_name}/{row.pk}/{action}/"
    body = {**admin_form(client, url), "name": "Renamed"} if action == "change" else {
        "post": "yes"}
    answer = racing_a_delete(model._meta.db_table, row.pk, lambda: client.post(url, body))
    assert answer.status_code == 302
    shown = [str(m) for m in get_messages(answer.wsgi_request)]
    assert any(m.endswith(GONE) for m in shown), shown
    assert not model.objects.filter(pk=row.pk).exists()


def test_the_portal_says_so_when_an_endpoint_goes_while_an_edit_waits(
    acme_admin_client, acme, endpoint_for
):
    endpoint = endpoint_for("https://hooks.acme.com/", ["camera.created"])
    url = f"/domains/{acme.name}/endpoints/{endpoint.endpoint_id}/edit"
    body = {"method": "POST", "url": "https://hooks.acme.com/v2", "headers": "{}",
            "event_types": ["camera.created"], "ordering": endpoint.ordering}
    answer = racing_a_delete(Endpoint._meta.db_table, endpoint.pk,
                             lambda: acme_admin_client.post(url, body),
                             dependents=(("callbacks_signingkey", "endpoint_id"),
                                         ("callbacks_endpointslot", "endpoint_id")))
    assert answer.status_code == 302
    assert any(str(m).endswith(GONE) for m in get_messages(answer.wsgi_request))
