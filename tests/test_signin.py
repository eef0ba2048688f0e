"""Sign-in, sign-out, password reset and the placeholder /domains page."""

import re

import pytest
from django.core import mail


@pytest.mark.django_db
def test_domains_page_needs_sign_in(client):
    answer = client.get("/domains")
    assert answer.status_code == 302
    assert answer["Location"] == "/accounts/login/?next=/domains"


@pytest.mark.django_db
def test_root_keeps_the_domain_query(client):
    answer = client.get("/?domain=acme.com")
    assert answer.status_code == 302 and answer["Location"] == "/domains?domain=acme.com"


@pytest.mark.django_db
def test_wrong_password_is_refused(client, acme_admin):
    answer = client.post("/accounts/login/", {"username": "hq@acme.com", "password": "nope"})
    assert answer.status_code == 200
    assert b"enter a correct email and password" in answer.content.lower()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_find_says_what_the_user_may_do(client, acme_admin, beta):
    client.force_login(acme_admin)
    assert client.get("/domains?domain=ACME.com")["Location"] == "/domains/acme.com/"
    assert b"you cannot manage it" in client.get("/domains?domain=beta.org").content
    unregistered = client.get("/domains?domain=unknown.net").content
    assert b"unknown.net is not registered" in unregistered
    assert b"mailto:" in unregistered
    assert b"is not a valid domain name" in client.get("/domains?domain=bad_name").content


@pytest.mark.django_db
def test_sign_out(client, acme_admin):
    client.force_login(acme_admin)
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/domains").status_code == 302


@pytest.mark.django_db
def test_password_reset_round_trip(client, acme_admin):
    mail.outbox.clear()
    client.post("/accounts/password_reset/", {"email": "hq@acme.com"})
    [message] = mail.outbox
    assert message.subject == "Reset your Camio Portal password"
    path = re.search(r"http://testserver(/accounts/reset/\S+/)", message.body).group(1)
    form = client.get(path, follow=True)
    assert form.status_code == 200
    set_url = form.redirect_chain[-1][0]
    done = client.post(
        set_url, {"new_password1": "fresh passphrase 42", "new_password2": "fresh passphrase 42"}
    )
    assert done.status_code == 302
    acme_admin.refresh_from_db()
    assert acme_admin.check_password("fresh passphrase 42")
    assert client.get(path, follow=True).context["validlink"] is False


@pytest.mark.django_db
def test_healthz_reports_database_broker_beat_and_workers(client):
    import datetime

    from django.utils import timezone

    from callbacks import liveness
    from callbacks.models import Heartbeat, Worker

    alone = client.get("/healthz")  # no worker has registered
    assert alone.status_code == 503
    assert alone.json()["checks"] == {"database": "ok", "broker": "ok", "beat": "starting",
                                      "deliveries": "none alive", "other": "none alive"}
    assert client.get("/readyz").json() == {"status": "ok", "checks": {"database": "ok"}}
    deliveries = liveness.register(["deliveries"])
    assert client.get("/healthz").json()["checks"]["other"] == "none alive"
    liveness.register(["other"])
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json()["checks"] == {"database": "ok", "broker": "ok", "beat": "starting",
                                       "deliveries": "ok (1 alive)", "other": "ok (1 alive)"}
    Worker.objects.filter(pk=deliveries).update(
        seen_at=timezone.now() - 3 * datetime.timedelta(seconds=1.1))  # 3 beats missed
    assert client.get("/healthz").json()["checks"]["deliveries"] == "none alive"
    liveness.register(["deliveries"])
    Heartbeat.objects.create(name="sweeper", at=timezone.now() - datetime.timedelta(hours=1))
    stale = client.get("/healthz")
    assert stale.status_code == 503
    assert stale.json()["checks"]["beat"].startswith("stale")
    assert client.get("/readyz").status_code == 200
