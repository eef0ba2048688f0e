"""Support staff in the Django admin: every write goes through the services."""

import re

import pytest
from django.core import mail

from domains.models import AuditEntry, Camera, Device, Domain, DomainAdministrator, User, Zone


@pytest.mark.django_db
def test_register_a_domain_from_the_admin(
    support_client, support, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        answer = support_client.post(
            "/admin/domains/domain/add/",
            {
                "name": "Newco.io",
                "admin_email": "boss@newco.io",
                "min_upload_queue_length_for_incident_creation": "40",
            },
        )
    assert answer.status_code == 302
    domain = Domain.objects.get(name="newco.io")
    assert domain.min_upload_queue_length_for_incident_creation == 40
    assert domain.primary_admin.email == "boss@newco.io"
    assert mail.outbox[-1].to == ["boss@newco.io"]
    entry = AuditEntry.objects.get(action="domain.registered")
    assert entry.actor == support


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field_error"),
    [
        ({"name": "gmail.com", "admin_email": "x@gmail.com"}, "public e-mail domain"),
        ({"name": "acme.com", "admin_email": "x@acme.com"}, "acme.com is already registered"),
        ({"name": "newco.io", "admin_email": "x@other.io"}, "must be in newco.io"),
        ({"name": "bad..name", "admin_email": "x@other.io"}, "is not a valid domain name"),
    ],
)
def test_admin_registration_errors_are_shown_and_nothing_is_written(
    support_client, acme, data, field_error
):
    domains, users = Domain.objects.count(), User.objects.count()
    answer = support_client.post("/admin/domains/domain/add/", data)
    assert answer.status_code == 200
    assert field_error in answer.content.decode()
    assert (Domain.objects.count(), User.objects.count()) == (domains, users)


@pytest.mark.django_db
def test_resend_invitation_action(support_client, acme, django_capture_on_commit_callbacks):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        support_client.post(
            "/admin/domains/domain/", {"action": "resend_invitation", "_selected_action": [acme.pk]}
        )
    assert [m.to for m in mail.outbox] == [["hq@acme.com"]]


@pytest.mark.django_db
def test_co_admin_inline_refuses_users_of_other_domains(
    support_client, acme, acme_teammate, beta_admin
):
    primary = DomainAdministrator.objects.get(domain=acme)

    def post(user):
        return support_client.post(
            f"/admin/domains/domain/{acme.pk}/change/",
            {
                "min_upload_queue_length_for_incident_creation": "",
                "administrators-TOTAL_FORMS": "2",
                "administrators-INITIAL_FORMS": "1",
                "administrators-0-id": primary.pk,
                "administrators-0-domain": acme.pk,
                "administrators-1-user": user.pk,
                "administrators-1-domain": acme.pk,
            },
        )

    refused = post(beta_admin)
    assert refused.status_code == 200
    assert "it@beta.org is not a user of acme.com" in refused.content.decode()
    assert post(acme_teammate).status_code == 302
    assert DomainAdministrator.objects.filter(domain=acme, user=acme_teammate).exists()
    assert AuditEntry.objects.filter(action="domain.admin_added").count() == 1


@pytest.mark.django_db
def test_create_camera_in_admin_uses_the_service(support_client, box, acme_admin, acme):
    answer = support_client.post(
        "/admin/domains/camera/add/",
        {
            "camera_id": "",
            "local_camera_id": "aabbcc001122.1",
            "name": "Back Door",
            "ip_address": "10.0.0.9",
            "mac_address": "aa-bb-cc-dd-ee-01",
            "maker": "Axis",
            "model": "M",
            "device": box.pk,
            "owner": acme_admin.pk,
            "zones-TOTAL_FORMS": "1",
            "zones-INITIAL_FORMS": "0",
            "zones-0-name": "Door",
            "zones-0-polygons": "[[[0,0],[1,0],[1,1]]]",
        },
    )
    assert answer.status_code == 302, answer.context["errors"]
    camera = Camera.objects.get(name="Back Door")
    assert camera.domain == acme and camera.local_camera_id == "AABBCC001122.1"
    assert camera.mac_address == "AA:BB:CC:DD:EE:01"
    assert camera.zones.get().domain == acme
    assert set(AuditEntry.objects.values_list("action", flat=True)) >= {
        "camera.created",
        "zone.created",
    }


@pytest.mark.django_db
def test_admin_shows_field_errors_for_bad_inventory(support_client, box, acme_admin):
    answer = support_client.post(
        "/admin/domains/camera/add/",
        {
            "name": "Bad",
            "ip_address": "999.1.1.1",
            "mac_address": "zz",
            "device": box.pk,
            "owner": acme_admin.pk,
            "zones-TOTAL_FORMS": "1",
            "zones-INITIAL_FORMS": "0",
            "zones-0-name": "Z",
            "zones-0-polygons": "[[0, 0]]",
        },
    )
    page = answer.content.decode()
    assert answer.status_code == 200
    assert "Enter a valid IPv4 or IPv6 address." in page
    assert "is not a MAC address" in page
    assert "Polygon 1 must be a list of at least 3" in page
    assert not Camera.objects.filter(name="Bad").exists()


@pytest.mark.django_db
def test_delete_selected_boxes_lists_children_and_deletes_through_services(
    support_client, box, camera, zone
):
    confirm = support_client.post(
        "/admin/domains/device/", {"action": "delete_selected", "_selected_action": [box.pk]}
    )
    page = confirm.content.decode()
    assert confirm.status_code == 200
    assert "Cannot delete" not in page
    assert re.search(r"Camera: <a [^>]+>Front Entrance</a>", page)
    assert re.search(r"Zone: <a [^>]+>Doorway</a>", page)
    done = support_client.post(
        "/admin/domains/device/",
        {"action": "delete_selected", "_selected_action": [box.pk], "post": "yes"},
    )
    assert done.status_code == 302
    assert not Device.objects.exists() and not Camera.objects.exists() and not Zone.objects.exists()
    assert list(
        AuditEntry.objects.filter(action__endswith="deleted")
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["zone.deleted", "camera.deleted", "device.deleted"]


@pytest.mark.django_db
def test_delete_one_camera_page(support_client, camera, zone):
    confirm = support_client.get(f"/admin/domains/camera/{camera.pk}/delete/")
    assert "Zone: " in confirm.content.decode()
    support_client.post(f"/admin/domains/camera/{camera.pk}/delete/", {"post": "yes"})
    assert not Camera.objects.exists() and not Zone.objects.exists()


@pytest.mark.django_db
def test_inventory_lists_search_and_filter(support_client, camera, acme):
    page = support_client.get(
        "/admin/domains/camera/", {"q": "Front", "domain__id__exact": acme.pk}
    )
    assert "Front Entrance" in page.content.decode()
    assert (
        "Front Entrance"
        not in support_client.get("/admin/domains/camera/", {"q": "nothing"}).content.decode()
    )


@pytest.mark.django_db
def test_audit_log_is_read_only(support_client, camera):
    entry = AuditEntry.objects.first()
    assert support_client.get("/admin/domains/auditentry/").status_code == 200
    assert support_client.get("/admin/domains/auditentry/add/").status_code == 403
    assert (
        support_client.post(
            f"/admin/domains/auditentry/{entry.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


@pytest.mark.django_db
def test_domain_admins_are_not_staff(client, acme_admin):
    client.force_login(acme_admin)
    assert client.get("/admin/").status_code == 302


@pytest.mark.django_db
def test_support_adds_a_user_with_a_password_who_joins_the_domain_and_signs_in(
    support_client, acme, client
):
    """P9 (7): the add form takes the e-mail (it is read-only only once the user exists)."""
    form = support_client.get("/admin/domains/user/add/")
    assert form.status_code == 200 and 'name="email"' in form.content.decode()
    answer = support_client.post(
        "/admin/domains/user/add/",
        {"email": "new@acme.com", "name": "New Guard", "password": "correct horse battery"},
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    user = User.objects.get(email="new@acme.com")
    assert user.domain == acme and user.name == "New Guard"
    assert AuditEntry.objects.filter(action="user.created", object_id=user.user_id).exists()
    support_client.logout()
    signed_in = client.post(
        "/accounts/login/", {"username": "new@acme.com", "password": "correct horse battery"}
    )
    assert signed_in.status_code == 302
    assert client.get("/domains").status_code == 200
    assert mail.outbox == [] or all("new@acme.com" not in m.to for m in mail.outbox)


INTEGRATION_INLINE = {
    "devices-TOTAL_FORMS": "0",
    "devices-INITIAL_FORMS": "0",
    "devices-MIN_NUM_FORMS": "0",
    "devices-MAX_NUM_FORMS": "1000",
}


@pytest.mark.django_db
def test_the_admin_refuses_a_pacs_source_server_that_is_no_server_address(
    support_client, acme_admin
):
    from pacs.models import PacsIntegration

    body = {
        **INTEGRATION_INLINE,
        "name": "HQ OnGuard",
        "vendor": "onguard",
        "owner": acme_admin.pk,
        "time_zone": "UTC",
    }
    refused = support_client.post(
        "/admin/pacs/pacsintegration/add/", {**body, "source_server": "not a host!!"}
    )
    assert refused.status_code == 200
    assert "source_server" in refused.context["adminform"].form.errors
    assert not PacsIntegration.objects.exists()
    added = support_client.post(
        "/admin/pacs/pacsintegration/add/", {**body, "source_server": "apac.int.acme.com:443"}
    )
    assert added.status_code == 302
    assert PacsIntegration.objects.get().source_server == "apac.int.acme.com:443"


@pytest.mark.django_db
def test_the_admin_still_saves_a_pacs_integration_saved_with_a_bad_source_server(
    support_client, integration
):
    from pacs.models import PacsIntegration

    PacsIntegration.objects.filter(pk=integration.pk).update(source_server="not a host!!")
    page = f"/admin/pacs/pacsintegration/{integration.pk}/change/"
    assert support_client.get(page).status_code == 200
    body = {**INTEGRATION_INLINE, "name": "HQ (renamed)", "vendor": "onguard", "time_zone": "UTC"}
    saved = support_client.post(page, {**body, "source_server": "not a host!!"})
    assert saved.status_code == 302
    integration.refresh_from_db()
    assert (integration.name, integration.source_server) == ("HQ (renamed)", "not a host!!")
    refused = support_client.post(page, {**body, "source_server": "apac..acme.com"})
    assert refused.status_code == 200
    assert "source_server" in refused.context["adminform"].form.errors
