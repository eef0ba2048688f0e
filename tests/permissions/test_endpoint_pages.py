"""Adding, editing, switching, deleting and testing an endpoint: acme.com's admins only."""

from __future__ import annotations

import pytest

from callbacks.models import Delivery, Endpoint, SigningKey
from domains.models import AuditEntry
from tests.support.portal import ENDPOINT_FORM, confirmed_post, url

pytestmark = pytest.mark.django_db


def test_the_owner_can_open_the_new_endpoint_form(owner_client, acme):
    assert owner_client.get(url("domains:endpoint_new", "acme.com")).status_code == 200


def test_the_owner_can_add_an_endpoint(owner_client, acme):
    answer = owner_client.post(url("domains:endpoint_new", "acme.com"), ENDPOINT_FORM)
    assert answer.status_code == 302
    assert Endpoint.objects.get().url == "https://hooks.acme.com/changed"


def test_a_co_admin_can_add_an_endpoint(co_admin_client, acme):
    answer = co_admin_client.post(url("domains:endpoint_new", "acme.com"), ENDPOINT_FORM)
    assert answer.status_code == 302
    assert Endpoint.objects.count() == 1


def test_a_teammate_cannot_add_an_endpoint(teammate_client, acme):
    answer = teammate_client.post(url("domains:endpoint_new", "acme.com"), ENDPOINT_FORM)
    assert answer.status_code == 404
    assert not Endpoint.objects.exists()


def test_an_outsider_gets_404_adding_an_endpoint(outsider_client, acme):
    answer = outsider_client.post(url("domains:endpoint_new", "acme.com"), ENDPOINT_FORM)
    assert answer.status_code == 404
    assert not Endpoint.objects.exists()


def test_support_staff_get_404_adding_an_endpoint(support_client, acme):
    answer = support_client.post(url("domains:endpoint_new", "acme.com"), ENDPOINT_FORM)
    assert answer.status_code == 404
    assert not Endpoint.objects.exists()


def test_the_owner_can_edit_an_endpoint(owner_client, endpoint):
    edit = url("domains:endpoint_edit", "acme.com", endpoint.endpoint_id)
    assert owner_client.get(edit).status_code == 200
    assert owner_client.post(edit, ENDPOINT_FORM).status_code == 302
    assert Endpoint.objects.get().url == "https://hooks.acme.com/changed"


def test_a_teammate_cannot_edit_an_endpoint(teammate_client, endpoint):
    edit = url("domains:endpoint_edit", "acme.com", endpoint.endpoint_id)
    assert teammate_client.get(edit).status_code == 404
    assert teammate_client.post(edit, ENDPOINT_FORM).status_code == 404
    assert Endpoint.objects.get().url == "https://hooks.acme.com/camio"


def test_an_outsider_gets_404_editing_an_endpoint(outsider_client, endpoint):
    edit = url("domains:endpoint_edit", "acme.com", endpoint.endpoint_id)
    assert outsider_client.get(edit).status_code == 404
    assert outsider_client.post(edit, ENDPOINT_FORM).status_code == 404
    assert Endpoint.objects.get().url == "https://hooks.acme.com/camio"


def test_an_outsider_gets_404_under_their_own_domains_name(outsider_client, endpoint):
    edit = url("domains:endpoint_edit", "beta.org", endpoint.endpoint_id)
    assert outsider_client.get(edit).status_code == 404
    assert outsider_client.post(edit, ENDPOINT_FORM).status_code == 404
    assert Endpoint.objects.get().url == "https://hooks.acme.com/camio"


def test_support_staff_get_404_editing_an_endpoint(support_client, endpoint):
    edit = url("domains:endpoint_edit", "acme.com", endpoint.endpoint_id)
    assert support_client.get(edit).status_code == 404
    assert support_client.post(edit, ENDPOINT_FORM).status_code == 404
    assert Endpoint.objects.get().url == "https://hooks.acme.com/camio"


def test_the_owner_can_disable_an_endpoint(owner_client, endpoint):
    disable = url("domains:endpoint_disable", "acme.com", endpoint.endpoint_id)
    answer = confirmed_post(owner_client, disable)
    assert answer.status_code == 302
    assert Endpoint.objects.get().enabled is False


def test_a_teammate_cannot_disable_an_endpoint(teammate_client, endpoint):
    answer = teammate_client.post(url("domains:endpoint_disable", "acme.com", endpoint.endpoint_id))
    assert answer.status_code == 404
    assert Endpoint.objects.get().enabled is True


def test_an_outsider_gets_404_disabling_an_endpoint(outsider_client, endpoint):
    answer = outsider_client.post(url("domains:endpoint_disable", "acme.com", endpoint.endpoint_id))
    assert answer.status_code == 404
    assert Endpoint.objects.get().enabled is True


def test_support_staff_get_404_disabling_an_endpoint(support_client, endpoint):
    answer = support_client.post(url("domains:endpoint_disable", "acme.com", endpoint.endpoint_id))
    assert answer.status_code == 404
    assert Endpoint.objects.get().enabled is True


def test_the_owner_can_enable_an_endpoint(owner_client, disabled_endpoint):
    enable = url("domains:endpoint_enable", "acme.com", disabled_endpoint.endpoint_id)
    assert owner_client.post(enable).status_code == 302
    assert Endpoint.objects.get().enabled is True


def test_a_teammate_cannot_enable_an_endpoint(teammate_client, disabled_endpoint):
    enable = url("domains:endpoint_enable", "acme.com", disabled_endpoint.endpoint_id)
    assert teammate_client.post(enable).status_code == 404
    assert Endpoint.objects.get().enabled is False


def test_an_outsider_gets_404_enabling_an_endpoint(outsider_client, disabled_endpoint):
    enable = url("domains:endpoint_enable", "acme.com", disabled_endpoint.endpoint_id)
    assert outsider_client.post(enable).status_code == 404
    assert Endpoint.objects.get().enabled is False


def test_support_staff_get_404_enabling_an_endpoint(support_client, disabled_endpoint):
    enable = url("domains:endpoint_enable", "acme.com", disabled_endpoint.endpoint_id)
    assert support_client.post(enable).status_code == 404
    assert Endpoint.objects.get().enabled is False


def test_the_owner_can_delete_an_endpoint(owner_client, endpoint):
    delete = url("domains:endpoint_delete", "acme.com", endpoint.endpoint_id)
    assert owner_client.get(delete).status_code == 200
    assert confirmed_post(owner_client, delete).status_code == 302
    assert Endpoint.objects.get().deleted_at is not None


def test_a_teammate_cannot_delete_an_endpoint(teammate_client, endpoint):
    delete = url("domains:endpoint_delete", "acme.com", endpoint.endpoint_id)
    assert teammate_client.get(delete).status_code == 404
    assert teammate_client.post(delete).status_code == 404
    assert Endpoint.objects.get().deleted_at is None


def test_an_outsider_gets_404_deleting_an_endpoint(outsider_client, endpoint):
    delete = url("domains:endpoint_delete", "acme.com", endpoint.endpoint_id)
    assert outsider_client.get(delete).status_code == 404
    assert outsider_client.post(delete).status_code == 404
    assert Endpoint.objects.get().deleted_at is None


def test_support_staff_get_404_deleting_an_endpoint(support_client, endpoint):
    delete = url("domains:endpoint_delete", "acme.com", endpoint.endpoint_id)
    assert support_client.get(delete).status_code == 404
    assert support_client.post(delete).status_code == 404
    assert Endpoint.objects.get().deleted_at is None


def test_the_owner_can_send_a_test_event(owner_client, endpoint):
    send = url("domains:endpoint_test", "acme.com", endpoint.endpoint_id)
    assert owner_client.post(send, {"event_type": "camera.created"}).status_code == 302
    assert Delivery.objects.filter(test=True).count() == 1


def test_a_teammate_cannot_send_a_test_event(teammate_client, endpoint):
    send = url("domains:endpoint_test", "acme.com", endpoint.endpoint_id)
    assert teammate_client.post(send, {"event_type": "camera.created"}).status_code == 404
    assert not Delivery.objects.exists()


def test_an_outsider_gets_404_sending_a_test_event(outsider_client, endpoint):
    send = url("domains:endpoint_test", "acme.com", endpoint.endpoint_id)
    assert outsider_client.post(send, {"event_type": "camera.created"}).status_code == 404
    assert not Delivery.objects.exists()


def test_support_staff_get_404_sending_a_test_event(support_client, endpoint):
    send = url("domains:endpoint_test", "acme.com", endpoint.endpoint_id)
    assert support_client.post(send, {"event_type": "camera.created"}).status_code == 404
    assert not Delivery.objects.exists()


def test_a_visitor_is_sent_to_sign_in(client, endpoint):
    answer = client.get(url("domains:endpoint_edit", "acme.com", endpoint.endpoint_id))
    assert answer.status_code == 302 and answer["Location"].startswith("/accounts/login/")


def test_the_owner_can_reveal_and_rotate_the_secret(owner_client, endpoint):
    secret = url("domains:endpoint_secret", "acme.com", endpoint.endpoint_id)
    rotate = url("domains:endpoint_secret_rotate", "acme.com", endpoint.endpoint_id)
    first = endpoint.current_key().secret
    assert first in owner_client.post(secret).content.decode()
    assert confirmed_post(owner_client, rotate).status_code == 302
    assert Endpoint.objects.get().current_key().secret != first


def test_a_teammate_cannot_reveal_or_rotate_the_secret(teammate_client, endpoint):
    secret = url("domains:endpoint_secret", "acme.com", endpoint.endpoint_id)
    rotate = url("domains:endpoint_secret_rotate", "acme.com", endpoint.endpoint_id)
    assert teammate_client.post(secret).status_code == 404
    assert teammate_client.get(rotate).status_code == 404
    assert teammate_client.post(rotate).status_code == 404
    assert SigningKey.objects.get().endpoint_id == endpoint.pk  # still its one key


def test_an_outsider_gets_404_for_the_secret(outsider_client, endpoint):
    secret = url("domains:endpoint_secret", "acme.com", endpoint.endpoint_id)
    rotate = url("domains:endpoint_secret_rotate", "acme.com", endpoint.endpoint_id)
    assert outsider_client.get(secret).status_code == 404
    assert outsider_client.get(rotate).status_code == 404
    assert outsider_client.post(rotate).status_code == 404
    assert SigningKey.objects.get().endpoint_id == endpoint.pk


def test_support_staff_get_404_for_the_secret(support_client, endpoint):
    secret = url("domains:endpoint_secret", "acme.com", endpoint.endpoint_id)
    rotate = url("domains:endpoint_secret_rotate", "acme.com", endpoint.endpoint_id)
    assert support_client.get(secret).status_code == 404
    assert support_client.get(rotate).status_code == 404
    assert support_client.post(rotate).status_code == 404
    assert SigningKey.objects.get().endpoint_id == endpoint.pk


def test_nobody_else_is_shown_the_secret_or_audited_as_seeing_it(teammate_client, endpoint):
    secret = url("domains:endpoint_secret", "acme.com", endpoint.endpoint_id)
    assert endpoint.current_key().secret not in teammate_client.post(secret).content.decode()
    assert not AuditEntry.objects.filter(action="endpoint.secret_revealed").exists()
