"""Every inventory write in the support admin goes through its service: the audit entry and
the callback event each service writes are there after an add, a change and a delete."""

import pytest

from callbacks.models import Event
from domains.models import AuditEntry, Device, Hook, Zone


def actions() -> list[str]:
    return list(AuditEntry.objects.order_by("id").values_list("action", flat=True))


@pytest.mark.django_db
def test_adding_a_box_in_the_admin_audits_it(client, support, acme_admin):
    client.force_login(support)
    answer = client.post("/admin/domains/device/add/", {
        "name": "Dock Box", "mac_address": "aa:bb:cc:00:11:99", "owner": acme_admin.pk,
    })
    assert answer.status_code == 302, answer.context["errors"]
    device = Device.objects.get(name="Dock Box")
    assert device.domain == acme_admin.domain and "device.created" in actions()


@pytest.mark.django_db
def test_changing_and_deleting_a_box_in_the_admin_announce_it(client, support, box, acme_admin):
    client.force_login(support)
    url = f"/admin/domains/device/{box.pk}/change/"
    answer = client.post(url, {
        "name": "Renamed Box", "mac_address": box.mac_address, "owner": acme_admin.pk,
    })
    assert answer.status_code == 302, answer.context["errors"]
    assert Device.objects.get(pk=box.pk).name == "Renamed Box"
    assert actions()[-1] == "device.updated"
    deleted = client.post(f"/admin/domains/device/{box.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302
    assert not Device.objects.filter(pk=box.pk).exists()
    assert Event.objects.filter(type="device.deleted").count() == 1


@pytest.mark.django_db
def test_adding_a_zone_in_the_admin_emits_zone_created(client, support, camera):
    client.force_login(support)
    answer = client.post("/admin/domains/zone/add/", {
        "camera": camera.pk, "name": "Gate", "polygons": "[[[0,0],[1,0],[1,1]]]",
    })
    assert answer.status_code == 302, answer.context["errors"]
    assert Zone.objects.get(name="Gate").domain == camera.domain
    assert Event.objects.filter(type="zone.created").count() == 1


@pytest.mark.django_db
def test_adding_a_hook_in_the_admin_emits_hook_created(client, support, acme_admin):
    client.force_login(support)
    answer = client.post("/admin/domains/hook/add/", {
        "owner": acme_admin.pk, "callback_url": "https://hooks.acme.com/h",
        "type": "label_hit", "parsed_query": "labels == 'person'",
    })
    assert answer.status_code == 302, answer.context["errors"]
    assert Hook.objects.get().owner == acme_admin
    assert Event.objects.filter(type="hook.created").count() == 1
