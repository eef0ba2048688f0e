"""Messages say what happened (P13): adding a co-admin says whether an invitation was
e-mailed, and one was exactly when the message says so; every invitation is worded for
what its person is (the primary admin, an admin, a plain user, support staff), on the
e-mail and on the set-password page; the counts they give are the counts."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.urls import reverse

from callbacks.publishing import publish
from callbacks.services import endpoint_disable
from domains import services
from domains.models import DomainAdministrator, User

pytestmark = pytest.mark.django_db

ADD = reverse("domains:admin_add", args=["acme.com"])


def shown(answer) -> str:
    """The page's text, its tags removed and whitespace runs collapsed (messages included)."""
    return " ".join(re.sub(r"<[^>]+>", "", answer.content.decode()).split())


def link_path(message: mail.EmailMessage) -> str:
    found = re.search(r"https?://[^/\s]+(/invitations/\S+/)", str(message.body))
    assert found is not None, message.body
    return found.group(1)


def test_a_new_co_admin_gets_an_account_and_an_invitation_and_is_told_so(
    acme_admin_client, acme, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        answer = acme_admin_client.post(ADD, {"email": "New@acme.com"}, follow=True)
    assert (
        "new@acme.com is now an admin of acme.com. A new account was opened for them and they "
        "were e-mailed an invitation to choose a password (the link works once, for 7 days)."
    ) in shown(answer)
    [sent] = mail.outbox
    assert sent.to == ["new@acme.com"]
    assert sent.subject == "Set up your Camio Portal account for acme.com"
    assert "You are an admin of acme.com on Camio Portal" in sent.body
    assert "primary" not in sent.body and "expires in 7 days" in sent.body
    page = acme_admin_client.get(link_path(sent))
    assert "For new@acme.com, an admin of acme.com." in shown(page)


def test_a_user_without_a_password_is_invited_too_since_they_could_not_sign_in(
    acme_admin_client, acme, django_capture_on_commit_callbacks
):
    user = services.user_create(email="night@acme.com")  # no password chosen yet
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        answer = acme_admin_client.post(ADD, {"email": "night@acme.com"}, follow=True)
    assert (
        "night@acme.com is now an admin of acme.com. They had no password yet, so they were "
        "e-mailed an invitation to choose one (the link works once, for 7 days; earlier links "
        "no longer work)."
    ) in shown(answer)
    assert DomainAdministrator.objects.filter(domain=acme, user=user, is_primary=False).exists()
    [sent] = mail.outbox
    assert sent.to == ["night@acme.com"]
    assert "You are an admin of acme.com" in sent.body


def test_a_user_with_a_password_is_sent_nothing_and_the_message_says_so(
    acme_admin_client, acme_teammate, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        answer = acme_admin_client.post(ADD, {"email": acme_teammate.email}, follow=True)
    assert (
        "guard@acme.com is now an admin of acme.com. They sign in with the password they "
        "already have; no e-mail was sent."
    ) in shown(answer)
    assert "e-mailed" not in shown(answer)
    assert mail.outbox == []


def test_a_refused_co_admin_is_sent_nothing(
    acme_admin_client, beta_admin, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        answer = acme_admin_client.post(ADD, {"email": beta_admin.email}, follow=True)
    assert "it@beta.org is not an address in acme.com." in shown(answer)
    assert "is now an admin" not in shown(answer) and mail.outbox == []


def test_a_registered_domains_admin_is_invited_as_its_primary_admin(acme, client):
    [sent] = mail.outbox
    assert sent.to == ["hq@acme.com"]
    assert "You are the primary admin of acme.com on Camio Portal" in sent.body
    assert "For hq@acme.com, the primary admin of acme.com." in shown(
        client.get(link_path(sent))
    )


def test_support_adding_a_plain_user_invites_them_as_a_user_not_an_admin(
    support_client, acme, client, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        answer = support_client.post(
            "/admin/domains/user/add/", {"email": "desk@acme.com", "name": "Desk"}, follow=True
        )
    assert "Invitation e-mailed to desk@acme.com." in shown(answer)
    [sent] = mail.outbox
    assert sent.to == ["desk@acme.com"]
    assert "You have an account in acme.com on Camio Portal" in sent.body
    assert "You are" not in sent.body and "admin of" not in sent.body
    assert "support staff" not in sent.body
    support_client.logout()
    page = shown(client.get(link_path(sent)))
    assert "For desk@acme.com, a user of acme.com." in page and "admin" not in page


def test_support_staff_are_invited_to_the_admin(support_client, django_capture_on_commit_callbacks):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        support_client.post(
            "/admin/domains/user/add/",
            {"email": "desk@camio-support.net", "name": "Desk", "is_staff": "on"},
        )
    [sent] = mail.outbox
    assert "You have an account on Camio Portal." in sent.body
    assert "As support staff, you work in the portal's admin: http" in sent.body
    assert "/admin/\n" in sent.body and "admin of" not in sent.body


def test_the_invitation_action_counts_the_users_it_e_mailed(
    support_client, acme, acme_teammate, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    chosen = User.objects.filter(email__in=["hq@acme.com", "guard@acme.com"])
    with django_capture_on_commit_callbacks(execute=True):
        answer = support_client.post(
            "/admin/domains/user/",
            {"action": "send_invitation", "_selected_action": [u.pk for u in chosen]},
            follow=True,
        )
    assert "Invitation e-mailed to 2 user(s)." in shown(answer)
    worded = {m.to[0]: m.body for m in mail.outbox}
    assert sorted(worded) == ["guard@acme.com", "hq@acme.com"]
    assert "You are the primary admin of acme.com" in worded["hq@acme.com"]
    assert "You have an account in acme.com" in worded["guard@acme.com"]


@pytest.mark.parametrize(("pending", "said"), [
    (2, "2 pending deliveries were cancelled; after enabling it again you can replay"),
    (1, "1 pending delivery was cancelled; after enabling it again you can replay"),
    (0, "No delivery was pending; after enabling it again you can replay"),
])
def test_the_disabled_e_mail_counts_the_deliveries_it_cancelled(
    quiet_endpoint, acme_admin, pending, said, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):  # stay pending: nothing sends
        for n in range(pending):
            publish(domain=quiet_endpoint.domain, type="camera.created", object={"n": n})
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        cancelled = endpoint_disable(endpoint=quiet_endpoint, actor=acme_admin, reason="")
    assert cancelled == pending
    [sent] = mail.outbox
    assert sent.to == ["hq@acme.com"] and said in sent.body
