"""/api/pacs/integrations: connect a PACS, edit and delete it, issue, rotate and revoke
its gateway's tokens, map its doors to cameras, list its recent events; a user manages
their own integrations and a domain's admins see all of the domain's.

Who may call which route with which ids is tests/test_api_matrix.py's; the gateway's
own routes are tests/test_pacs_ingest.py's."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from domains import services as domain_services
from domains.models import ApiToken, AuditEntry
from pacs import services
from pacs.models import EventState, PacsDevice, PacsEvent, PacsIntegration

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("pacs_labels")]
EVENT = json.loads((Path(__file__).parent / "fixtures" / "pacs" / "onguard.json").read_text())[
    "event"
]
URL = "/api/pacs/integrations"
DOORS = [
    {"device_id": "1_1", "device_name": "Rooftop Reader 1"},
    {"device_id": "1_2", "device_name": "Lobby Reader"},
]


def url(integration: PacsIntegration, rest: str = "") -> str:
    return f"{URL}/{integration.integration_id}{rest}"


def gateway(client_with, raw: str):
    return client_with(raw, "Bearer")


def errors(answer) -> dict[str, list[str]]:
    return answer.json()["errors"]


# --- Create, validate, update, delete ----------------------------------------------


def test_create_answers_201_and_is_audited(api, acme_admin):
    answer = api.post(
        URL,
        {
            "name": " HQ OnGuard ",
            "vendor": "onguard",
            "source_server": "apac.int.acme.com:443",
            "time_zone": "America/Chicago",
        },
        format="json",
    )
    assert answer.status_code == 201, answer.content
    body = answer.json()
    integration = PacsIntegration.objects.get(integration_id=body["integration_id"])
    assert body["name"] == "HQ OnGuard" == integration.name
    assert body["vendor"] == "onguard"
    assert body["source_server"] == "apac.int.acme.com:443"
    assert body["time_zone"] == "America/Chicago"
    assert body["domain"] == "acme.com"
    assert body["owner"] == {"user_id": acme_admin.user_id, "email": acme_admin.email}
    entry = AuditEntry.objects.get(action="pacs_integration.created")
    assert entry.actor == acme_admin
    assert entry.domain.name == "acme.com"
    assert entry.object_id == integration.integration_id
    assert entry.after["time_zone"] == "America/Chicago"
    # No token yet: the gateway's comes from tokens/new.
    assert api.get(f"{URL}/{integration.integration_id}/tokens").json() == []


def test_create_defaults_the_time_zone_to_utc(api):
    answer = api.post(URL, {"name": "Annex", "vendor": "generic"}, format="json")
    assert answer.status_code == 201
    assert answer.json()["time_zone"] == "UTC"
    assert answer.json()["source_server"] == ""


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({"name": "HQ", "vendor": "genetec"}, "vendor", 400),
        ({"name": "HQ", "vendor": "onguard", "time_zone": "Mars/Base"}, "time_zone", 400),
        ({"name": "HQ", "vendor": "onguard", "time_zone": "../../etc/passwd"}, "time_zone", 400),
        ({"name": "HQ", "vendor": "onguard", "time_zone": ""}, "time_zone", 400),
        ({"vendor": "onguard"}, "name", 400),
        ({"name": "   ", "vendor": "onguard"}, "name", 400),
        ({"name": "x" * 201, "vendor": "onguard"}, "name", 400),
        ({"name": "HQ"}, "vendor", 400),
        ({"name": 7, "vendor": "onguard"}, "name", 400),
        ({"name": "HQ", "vendor": "onguard", "owner": "guard@acme.com"}, "owner", 400),
    ],
    ids=[
        "unknown vendor",
        "unknown time zone",
        "time zone as a path",
        "blank time zone",
        "no name",
        "blank name",
        "long name",
        "no vendor",
        "a number for a name",
        "an unknown field",
    ],
)
def test_a_bad_create_names_the_field_and_creates_nothing(api, body, field, status):
    """What the schema forbids is a 400; a well-formed value a rule refuses, a 422."""
    audit = AuditEntry.objects.count()
    answer = api.post(URL, body, format="json")
    assert answer.status_code == status, answer.content
    assert set(errors(answer)) == {field}, errors(answer)
    assert not PacsIntegration.objects.exists()
    assert AuditEntry.objects.count() == audit


@pytest.mark.parametrize(
    "source_server",
    ["apac.int.acme.com:443", "10.0.0.5", "[2001:db8::1]:8443", "onguard", "onguard:1", ""],
)
def test_a_server_address_is_a_host_or_an_address_with_an_optional_port(api, source_server):
    body = {"name": "HQ", "vendor": "onguard", "source_server": source_server}
    answer = api.post(URL, body, format="json")
    assert answer.status_code == 201, answer.content
    assert PacsIntegration.objects.get().source_server == source_server


@pytest.mark.parametrize(
    ("source_server", "status"),
    [
        ("not a host!!", 400),  # the schema states every rule (fields.SERVER_ADDRESS_SCHEMA)
        ("apac int.acme.com", 400),
        ("acme!.com", 400),
        ("apac..acme.com", 400),  # an empty label
        (".acme.com", 400),
        ("acme.com:0", 400),
        ("acme.com:65536", 400),
        ("acme.com:", 400),
        ("a" * 64 + ".acme.com", 400),  # a label over 63
        (".".join(["abcdefgh"] * 28) + ".com", 400),  # a name over 253
        ("-acme.com", 400),
        ("10.0.0.256", 400),
        ("2001:db8::1", 400),  # IPv6 goes in brackets
        ("[2001:db8::zz]:443", 400),
        ("[2001:db8::1]443", 400),
    ],
)
def test_a_source_server_that_is_no_server_address_is_refused_naming_it(
    api, integration, source_server, status
):
    create = api.post(
        URL, {"name": "HQ", "vendor": "onguard", "source_server": source_server}, format="json"
    )
    assert create.status_code == status, create.content
    assert set(errors(create)) == {"source_server"}, errors(create)
    update = api.patch(url(integration), {"source_server": source_server}, format="json")
    assert update.status_code == status, update.content
    assert set(errors(update)) == {"source_server"}, errors(update)
    assert list(PacsIntegration.objects.values_list("source_server", flat=True)) == [
        integration.source_server
    ]


def test_a_row_saved_with_a_bad_source_server_still_loads_and_saves(api, integration):
    """The check is on input: rows saved before it keep working until the address changes."""
    PacsIntegration.objects.filter(pk=integration.pk).update(source_server="not a host!!")
    assert api.get(url(integration)).json()["source_server"] == "not a host!!"
    renamed = api.patch(url(integration), {"name": "HQ (renamed)"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["source_server"] == "not a host!!"
    fixed = api.patch(url(integration), {"source_server": "apac.int.acme.com"}, format="json")
    assert fixed.status_code == 200 and fixed.json()["source_server"] == "apac.int.acme.com"


def test_update_changes_the_fields_and_is_audited(api, integration, acme_admin):
    answer = api.patch(
        url(integration),
        {"name": "HQ OnGuard (new)", "time_zone": "Europe/Berlin", "source_server": ""},
        format="json",
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["name"] == "HQ OnGuard (new)"
    assert answer.json()["time_zone"] == "Europe/Berlin"
    assert answer.json()["source_server"] == ""
    integration.refresh_from_db()
    assert (integration.name, integration.time_zone) == ("HQ OnGuard (new)", "Europe/Berlin")
    assert integration.updated_at > integration.created_at
    entry = AuditEntry.objects.get(action="pacs_integration.updated")
    assert entry.actor == acme_admin
    assert entry.before["name"] == "HQ OnGuard"
    assert entry.after["name"] == "HQ OnGuard (new)"
    assert api.get(url(integration)).json()["name"] == "HQ OnGuard (new)"


def test_a_bad_update_names_the_field_and_changes_nothing(api, integration):
    before = PacsIntegration.objects.filter(pk=integration.pk).values().get()
    for body, field, status in [
        ({"time_zone": "Mars/Base"}, "time_zone", 400),
        ({"vendor": "genetec"}, "vendor", 400),
        ({"name": ""}, "name", 400),
        ({"name": "Renamed", "time_zone": "Mars/Base"}, "time_zone", 400),
    ]:
        answer = api.patch(url(integration), body, format="json")
        assert answer.status_code == status, (body, answer.content)
        assert set(errors(answer)) == {field}, (body, errors(answer))
    assert PacsIntegration.objects.filter(pk=integration.pk).values().get() == before
    assert not AuditEntry.objects.filter(action="pacs_integration.updated").exists()


def test_the_owner_and_domain_cannot_be_changed(api, integration, acme_teammate, beta):
    answer = api.patch(
        url(integration), {"owner": acme_teammate.email, "domain": "beta.org"}, format="json"
    )
    assert answer.status_code == 400 and set(errors(answer)) == {"owner", "domain"}
    integration.refresh_from_db()
    assert integration.owner.email == "hq@acme.com"
    assert integration.domain.name == "acme.com"


def test_delete_cuts_its_tokens_off_and_the_purge_removes_devices_events_and_tokens(
    api, integration, pacs_client, client_with, acme_admin
):
    pacs_client.post("/pacs/devices", {"devices": DOORS}, format="json")
    assert pacs_client.post("/pacs/webhooks", {"event": EVENT}, format="json").status_code == 202
    answer = api.delete(url(integration))
    assert answer.status_code == 204
    assert api.get(url(integration)).status_code == 404
    assert pacs_client.post("/pacs/webhooks", {"event": EVENT}, format="json").status_code == 401
    assert pacs_client.post("/pacs/devices", {"devices": DOORS}, format="json").status_code == 401
    entry = AuditEntry.objects.get(action="pacs_integration.deleted")
    assert entry.actor == acme_admin and entry.before["name"] == "HQ OnGuard"
    assert api.delete(url(integration)).status_code == 404
    # Kept, inert, for the undo window; then purged with its devices, events and tokens.
    assert PacsDevice.objects.exists() and PacsEvent.objects.count() == 1
    window = datetime.timedelta(hours=settings.UNDO_WINDOW_HOURS)
    assert services.integrations_purge(now=timezone.now() + window / 2) == 0
    assert services.integrations_purge(now=timezone.now() + window) == 1
    assert not PacsIntegration.objects.exists()
    assert not PacsDevice.objects.exists() and not PacsEvent.objects.exists()
    assert not ApiToken.objects.filter(kind="pacs").exists()


# --- Tokens -------------------------------------------------------------------------


def test_a_new_token_is_shown_once_and_opens_the_gateway(api, integration, client_with):
    answer = api.post(url(integration, "/tokens/new"))
    assert answer.status_code == 201, answer.content
    body = answer.json()
    raw = body["token"]
    assert raw.startswith("cpp_") and raw.startswith(body["prefix"])
    assert body["revoked_at"] is None
    token = ApiToken.objects.get(prefix=body["prefix"])
    assert (token.kind, token.subject) == ("pacs", integration.integration_id)
    listed = api.get(url(integration, "/tokens")).json()
    assert [row["prefix"] for row in listed] == [body["prefix"]]
    assert raw not in json.dumps(listed) and "token" not in listed[0]
    client = gateway(client_with, raw)
    assert client.post("/pacs/webhooks", {"event": EVENT}, format="json").status_code == 202
    assert PacsEvent.objects.get().integration == integration
    assert AuditEntry.objects.filter(action="token.created", object_id=body["prefix"]).exists()


def test_rotate_revokes_the_old_tokens(api, integration, client_with):
    old = api.post(url(integration, "/tokens/new")).json()
    older = api.post(url(integration, "/tokens/new")).json()
    answer = api.post(url(integration, "/tokens/rotate"))
    assert answer.status_code == 201, answer.content
    new = answer.json()
    for stale in (old, older):
        reply = gateway(client_with, stale["token"]).post(
            "/pacs/webhooks", {"event": EVENT}, format="json"
        )
        assert reply.status_code == 401, stale["prefix"]
    reply = gateway(client_with, new["token"]).post(
        "/pacs/webhooks", {"event": EVENT}, format="json"
    )
    assert reply.status_code == 202
    listed = {row["prefix"]: row for row in api.get(url(integration, "/tokens")).json()}
    assert set(listed) == {old["prefix"], older["prefix"], new["prefix"]}
    assert listed[new["prefix"]]["revoked_at"] is None
    assert listed[old["prefix"]]["revoked_at"] and listed[older["prefix"]]["revoked_at"]


def test_revoke_one_token(api, integration, client_with):
    kept = api.post(url(integration, "/tokens/new")).json()
    gone = api.post(url(integration, "/tokens/new")).json()
    assert api.delete(url(integration, f"/tokens/{gone['prefix']}")).status_code == 204
    for token, status in [(gone, 401), (kept, 202)]:
        reply = gateway(client_with, token["token"]).post(
            "/pacs/webhooks", {"event": EVENT}, format="json"
        )
        assert reply.status_code == status, token["prefix"]
    assert AuditEntry.objects.filter(action="token.revoked", object_id=gone["prefix"]).exists()
    assert api.delete(url(integration, "/tokens/cpp_NOSUCH00")).status_code == 404


def test_a_token_of_another_integration_cannot_be_revoked_through_this_one(
    api, integration, acme_admin, client_with
):
    other = services.integration_create(owner=acme_admin, vendor="brivo", name="Annex Brivo")
    token, raw = services.integration_token_issue(integration=other, actor=None)
    answer = api.delete(url(integration, f"/tokens/{token.prefix}"))
    assert answer.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
    assert (
        gateway(client_with, raw)
        .post("/pacs/devices", {"devices": DOORS}, format="json")
        .status_code
        == 200
    )


def test_user_tokens_are_not_listed_or_revoked_as_pacs_tokens(api, integration, acme_admin):
    user_token = ApiToken.objects.get(user=acme_admin, kind="user")
    assert api.get(url(integration, "/tokens")).json() == []
    assert api.delete(url(integration, f"/tokens/{user_token.prefix}")).status_code == 404
    user_token.refresh_from_db()
    assert user_token.revoked_at is None


# --- Devices mapped to cameras -------------------------------------------------------


def test_devices_are_listed_as_the_gateway_sent_them(api, integration, pacs_client):
    assert api.get(url(integration, "/devices")).json() == []
    pacs_client.post("/pacs/devices", {"devices": DOORS}, format="json")
    listed = api.get(url(integration, "/devices")).json()
    assert listed == [
        {"device_id": "1_2", "device_name": "Lobby Reader", "camera_ids": []},
        {"device_id": "1_1", "device_name": "Rooftop Reader 1", "camera_ids": []},
    ]


def test_map_a_device_then_its_events_stay_with_the_camera(
    api, integration, pacs_client, camera, acme_admin
):
    pacs_client.post("/pacs/devices", {"devices": DOORS}, format="json")
    answer = api.patch(
        url(integration, "/devices/1_1"), {"camera_ids": [camera.camera_id]}, format="json"
    )
    assert answer.status_code == 200, answer.content
    assert answer.json() == {
        "device_id": "1_1",
        "device_name": "Rooftop Reader 1",
        "camera_ids": [camera.camera_id],
    }
    assert list(PacsDevice.objects.get(device_id="1_1").cameras.all()) == [camera]
    entry = AuditEntry.objects.get(action="pacs_device.mapped")
    assert entry.actor == acme_admin
    assert entry.after == {"device": "1_1", "cameras": [camera.camera_id]}
    devices = {row["device_id"]: row for row in api.get(url(integration, "/devices")).json()}
    assert devices["1_1"]["camera_ids"] == [camera.camera_id]
    assert devices["1_2"]["camera_ids"] == []

    reply = pacs_client.post("/pacs/webhooks", {"event": EVENT}, format="json")
    assert reply.status_code == 202 and reply.json()["accepted"] == [0]
    event = PacsEvent.objects.get()
    assert event.entry_id == "1_1"
    assert event.state == EventState.MAPPED
    assert list(event.cameras.all()) == [camera]

    # Unmapped again: the next event waits for the relay.
    assert (
        api.patch(url(integration, "/devices/1_1"), {"camera_ids": []}, format="json").json()[
            "camera_ids"
        ]
        == []
    )
    pacs_client.post("/pacs/webhooks", {"event": {**EVENT, "serial_number": 2}}, format="json")
    assert PacsEvent.objects.filter(state=EventState.PENDING).count() == 1


def test_another_domains_camera_cannot_be_mapped(api, integration, pacs_client, camera, beta_admin):
    beta_box = domain_services.device_create(
        owner=beta_admin, name="Beta Box", mac_address="aa:bb:cc:00:99:77"
    )
    beta_camera = domain_services.camera_create(owner=beta_admin, device=beta_box, name="Beta Door")
    pacs_client.post("/pacs/devices", {"devices": DOORS}, format="json")
    device = PacsDevice.objects.get(device_id="1_1")
    device.cameras.set([camera])
    audit = AuditEntry.objects.count()
    for wanted in ([beta_camera.camera_id], [camera.camera_id, beta_camera.camera_id]):
        answer = api.patch(url(integration, "/devices/1_1"), {"camera_ids": wanted}, format="json")
        assert answer.status_code == 422, answer.content
        assert set(errors(answer)) == {"camera_ids"}
        assert beta_camera.camera_id in " ".join(errors(answer)["camera_ids"])
    assert list(device.cameras.all()) == [camera]
    assert not beta_camera.pacs_devices.exists()
    assert AuditEntry.objects.count() == audit


@pytest.mark.parametrize(
    "body",
    [
        {"camera_ids": "CAM1"},
        {"camera_ids": [None]},
        {"camera_ids": ["x" * 65]},
        {"camera_ids": ["a/b"]},
        {"camera_ids": [7]},
    ],
)
def test_a_bad_mapping_body_is_a_400_naming_camera_ids(api, integration, pacs_client, body):
    pacs_client.post("/pacs/devices", {"devices": DOORS}, format="json")
    answer = api.patch(url(integration, "/devices/1_1"), body, format="json")
    assert answer.status_code == 400, answer.content
    assert all(field.split(".")[0] == "camera_ids" for field in errors(answer)), errors(answer)


def test_a_mapping_without_camera_ids_changes_nothing(api, integration, pacs_client, camera):
    pacs_client.post("/pacs/devices", {"devices": DOORS}, format="json")
    PacsDevice.objects.get(device_id="1_1").cameras.set([camera])
    audit = AuditEntry.objects.count()
    answer = api.patch(url(integration, "/devices/1_1"), {}, format="json")
    assert answer.status_code == 200 and answer.json()["camera_ids"] == [camera.camera_id]
    assert AuditEntry.objects.count() == audit


def test_an_unknown_device_answers_404(api, integration, pacs_client, camera, acme_admin):
    other = services.integration_create(owner=acme_admin, vendor="brivo", name="Annex Brivo")
    services.devices_replace(integration=other, devices=[{"device_id": "9_9"}])
    for device_id in ("1_9", "9_9"):  # nowhere, and a door of another integration
        answer = api.patch(
            url(integration, f"/devices/{device_id}"),
            {"camera_ids": [camera.camera_id]},
            format="json",
        )
        assert answer.status_code == 404, device_id
    assert not PacsDevice.cameras.through.objects.exists()


# --- Events --------------------------------------------------------------------------


def test_events_show_labels_state_and_batch(api, integration, pacs_client, camera, settings):
    pacs_client.post("/pacs/devices", {"devices": DOORS}, format="json")
    api.patch(url(integration, "/devices/1_2"), {"camera_ids": [camera.camera_id]}, format="json")
    pacs_client.post(
        "/pacs/webhooks",
        {"events": [{**EVENT, "serial_number": 1}, {**EVENT, "serial_number": 2, "device_id": 2}]},
        format="json",
    )
    assert services.flush(integration.integration_id) == 1  # the unmapped door's event
    listed = api.get(url(integration, "/events"))
    assert listed.status_code == 200
    rows = {row["entry_id"]: row for row in listed.json()["results"]}
    assert set(rows) == {"1_1", "1_2"}
    relayed, mapped = rows["1_1"], rows["1_2"]
    assert relayed["labels"] == [
        "onguard:entry.ajar.started:2021-01-29T01:14:33.000-0000",
        "entry.ajar.started",
        "integration:onguard",
    ]
    assert relayed["state"] == "relayed"
    stored = PacsEvent.objects.get(entry_id="1_1")
    assert relayed["batch_id"] == str(stored.batch_id) and stored.batch_id is not None
    assert relayed["event_id"] == str(stored.event_id) and stored.event_id is not None
    assert relayed["occurred_at"].startswith("2021-01-29T01:14:33")
    assert mapped["state"] == "mapped"
    assert mapped["batch_id"] is None and mapped["event_id"] is None
    assert "body" not in relayed


def test_events_are_newest_first_and_paged(api, integration, pacs_client, settings):
    settings.API_PAGE_SIZE = 2
    for serial in range(3):
        pacs_client.post(
            "/pacs/webhooks", {"event": {**EVENT, "serial_number": serial}}, format="json"
        )
    first = api.get(url(integration, "/events")).json()
    assert len(first["results"]) == 2 and first["next"]
    second = api.get(first["next"]).json()
    ids = [row["id"] for row in first["results"] + second["results"]]
    newest_first = PacsEvent.objects.order_by("-received_at").values_list("id", flat=True)
    assert ids == [str(pk) for pk in newest_first]
    assert all(row["state"] == "pending" for row in first["results"])


def test_events_of_other_integrations_are_not_listed(api, integration, acme_admin):
    other = services.integration_create(owner=acme_admin, vendor="onguard", name="Annex")
    services.ingest_events(integration=other, events=[EVENT])
    assert api.get(url(integration, "/events")).json()["results"] == []
    assert len(api.get(url(other, "/events")).json()["results"]) == 1


# --- Who sees which integration -----------------------------------------------------


def test_a_teammate_sees_their_own_and_the_domain_admin_sees_all(
    api, integration, acme_teammate, beta_admin, token_for, client_with
):
    teammate = client_with(token_for(acme_teammate))
    created = teammate.post(URL, {"name": "Annex Brivo", "vendor": "brivo"}, format="json")
    assert created.status_code == 201, created.content
    theirs = created.json()["integration_id"]
    assert created.json()["owner"]["email"] == acme_teammate.email

    listed = [row["integration_id"] for row in teammate.get(URL).json()["results"]]
    assert listed == [theirs]
    assert teammate.get(url(integration)).status_code == 404
    assert teammate.post(url(integration, "/tokens/new")).status_code == 404
    assert teammate.get(f"{URL}/{theirs}/tokens").status_code == 200

    seen = {row["integration_id"] for row in api.get(URL).json()["results"]}
    assert seen == {theirs, integration.integration_id}
    assert api.patch(f"{URL}/{theirs}", {"name": "Annex (admin)"}, format="json").status_code == 200
    assert api.post(f"{URL}/{theirs}/tokens/new").status_code == 201
    entry = AuditEntry.objects.filter(action="pacs_integration.updated").get()
    assert entry.object_id == theirs and entry.actor.email == "hq@acme.com"

    outsider = client_with(token_for(beta_admin))
    assert outsider.get(URL).json()["results"] == []
    for target in (theirs, integration.integration_id):
        assert outsider.get(f"{URL}/{target}").status_code == 404
        assert outsider.delete(f"{URL}/{target}").status_code == 404
    assert PacsIntegration.objects.count() == 2


def test_a_teammate_made_admin_sees_the_domains_integrations_until_removed(
    integration, acme, acme_admin, acme_teammate, token_for, client_with
):
    theirs = services.integration_create(owner=acme_teammate, vendor="brivo", name="Annex")
    teammate = client_with(token_for(acme_teammate))

    def seen() -> set[str]:
        return {row["integration_id"] for row in teammate.get(URL).json()["results"]}

    assert seen() == {theirs.integration_id}
    domain_services.domain_admin_add(domain=acme, user=acme_teammate, actor=acme_admin)
    assert seen() == {theirs.integration_id, integration.integration_id}
    assert teammate.get(url(integration)).status_code == 200
    domain_services.domain_admin_remove(domain=acme, user=acme_teammate, actor=acme_admin)
    assert seen() == {theirs.integration_id}
    assert teammate.get(url(integration)).status_code == 404
