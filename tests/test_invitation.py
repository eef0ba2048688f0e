"""The invitation link: set a password once, then sign in; a second use fails."""

import datetime
import re

import pytest
from django.core import mail
from django.utils import timezone

from domains import services
from domains.models import Invitation, User


def link_path() -> str:
    match = re.search(r"https?://\S+/invitations/\S+/", str(mail.outbox[-1].body))
    assert match is not None, mail.outbox[-1].body
    url = match.group(0)
    return url.split("testserver", 1)[1]


@pytest.mark.django_db
def test_invitation_sets_password_and_admin_signs_in(client, acme):
    path = link_path()
    page = client.get(path)
    assert page.status_code == 200
    assert b"hq@acme.com" in page.content
    answer = client.post(
        path, {"new_password1": "a sturdy passphrase 9", "new_password2": "a sturdy passphrase 9"}
    )
    assert answer.status_code == 302 and answer["Location"].startswith("/accounts/login/")
    assert User.objects.get(email="hq@acme.com").check_password("a sturdy passphrase 9")

    signed_in = client.post(
        "/accounts/login/", {"username": "hq@acme.com", "password": "a sturdy passphrase 9"}
    )
    assert signed_in.status_code == 302 and signed_in["Location"] == "/domains"
    assert b"acme.com" in client.get("/domains").content

    client.logout()
    again = client.get(path)
    assert again.status_code == 410
    assert b"already been used" in again.content
    reuse = client.post(
        path, {"new_password1": "another passphrase 7", "new_password2": "another passphrase 7"}
    )
    assert reuse.status_code == 410
    assert User.objects.get(email="hq@acme.com").check_password("a sturdy passphrase 9")


@pytest.mark.django_db
def test_expired_link_is_refused(client, acme):
    path = link_path()
    Invitation.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    answer = client.get(path)
    assert answer.status_code == 410 and b"expired" in answer.content
    assert not User.objects.get(email="hq@acme.com").has_usable_password()
    # P13: a reset mails only users with a password, so it is not offered to one without.
    assert b"Ask support (support@camio-portal.invalid) to send a new one." in answer.content
    assert b"reset your password" not in answer.content


@pytest.mark.django_db
def test_an_expired_link_of_a_user_with_a_password_offers_a_reset(client, acme_admin):
    path = link_path()
    Invitation.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    answer = client.get(path)
    assert answer.status_code == 410
    assert b"to send a new one, or reset your password." in answer.content


@pytest.mark.django_db
def test_resent_invitation_replaces_the_old_link(client, acme, django_capture_on_commit_callbacks):
    first = link_path()
    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_send(
            user=User.objects.get(email="hq@acme.com"), domain=acme, actor=None
        )
    second = link_path()
    assert first != second
    assert b"replaced by a newer one" in client.get(first).content
    assert client.get(second).status_code == 200


@pytest.mark.django_db
def test_weak_password_is_refused_and_link_stays_usable(client, acme):
    path = link_path()
    answer = client.post(path, {"new_password1": "123", "new_password2": "123"})
    assert answer.status_code == 200
    assert b"too short" in answer.content
    assert Invitation.objects.get().used_at is None


@pytest.mark.django_db
def test_unknown_token_is_refused(client):
    answer = client.get("/invitations/not-a-real-token/")
    assert answer.status_code == 410 and b"not valid" in answer.content
