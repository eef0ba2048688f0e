"""P17 (2): mutual TLS. A receiver that requires a client certificate accepts callbacks from
an endpoint with one and refuses them (a TLS error in the log, retried) from an endpoint
without; bad uploads get a clear error and save nothing; no decrypted key is left in a
file after loading; 14 days before the end the admins are warned once."""

from __future__ import annotations

import datetime
import os
import tempfile
from pathlib import Path

import pytest
from django.core import mail

from callbacks.models import Attempt, Delivery, Endpoint
from callbacks.services import operational
from callbacks.tls import client_context
from domains import services
from domains.models import AuditEntry
from tests.receiver import Receiver, wait_for
from tests.support.certificates import Authority

NAME = "mtls.test"


@pytest.mark.django_db(transaction=True)
def test_a_receiver_requiring_a_client_certificate_takes_only_the_endpoint_with_one(
    settings, worker, endpoint_for, box, acme_admin, loopback_names, tmp_path
):
    settings.CALLBACK_RETRY_SCHEDULE = [0, 3600]
    loopback_names.add(NAME)
    authority = Authority()
    client = authority.issue("acme.com callbacks")
    receiver = Receiver(tls=authority.server_context(NAME, tmp_path))
    port = receiver.url.rsplit(":", 1)[1]
    try:
        with_one = endpoint_for(f"https://{NAME}:{port}/in", ["camera.created"],
                                client_certificate=client.certificate, client_key=client.key,
                                ca_bundle=authority.pem)
        without = endpoint_for(f"https://{NAME}:{port}/bare", ["camera.created"],
                               ca_bundle=authority.pem)
        services.camera_create(owner=acme_admin, device=box, name="Mutual")
        wait_for(lambda: Attempt.objects.count() == 2, timeout=30, what="two attempts")
    finally:
        receiver.close()
    assert [r.path for r in receiver.received] == ["/in"]
    assert with_one.deliveries.get().state == "succeeded"
    refused = without.deliveries.get()
    assert refused.state == "pending"  # retried on the schedule
    assert refused.attempts.get().error.startswith("TLS error")


@pytest.mark.django_db
@pytest.mark.parametrize(("make", "said"), [
    (lambda a: ("not a certificate", a.issue("x").key), "is not PEM"),
    (lambda a: (a.issue("x").certificate, "not a key"), "private key is not PEM"),
    (lambda a: (a.issue("x").certificate, a.issue("y").key), "does not match the certificate"),
    (lambda a: (a.issue("x", days=-1, starts_in_days=-10).certificate, None), "expired on"),
    (lambda a: (a.issue("x", password=b"pw").certificate, a.issue("x", password=b"pw").key),
     "is encrypted"),
])
def test_a_bad_upload_gets_a_clear_error_and_saves_nothing(api, acme_admin_client, acme, make,
                                                           said):
    authority = Authority()
    certificate, key = make(authority)
    if key is None:  # the expired certificate's own key
        issued = authority.issue("x", days=-1, starts_in_days=-10)
        certificate, key = issued.certificate, issued.key
    answer = api.post("/api/endpoints", {"url": "https://hooks.acme.com/in",
                                         "event_types": ["camera.created"],
                                         "client_certificate": certificate, "client_key": key},
                      format="json")
    assert answer.status_code == 422
    assert said in answer.json()["errors"]["client_certificate"][0]
    page = acme_admin_client.post(f"/domains/{acme.name}/endpoints/new", {
        "method": "POST", "url": "https://hooks.acme.com/in", "event_types": ["camera.created"],
        "ordering": "none", "client_certificate": certificate, "client_key": key})
    assert page.status_code == 400
    assert said in " ".join(page.context["form"].errors["client_certificate"])
    assert not Endpoint.objects.exists()


@pytest.mark.django_db
def test_the_key_is_never_shown_and_the_certificate_is_named_by_fingerprint(api):
    authority = Authority()
    client = authority.issue("acme.com callbacks")
    made = api.post("/api/endpoints", {"url": "https://hooks.acme.com/in",
                                       "event_types": ["camera.created"],
                                       "client_certificate": client.certificate,
                                       "client_key": client.key}, format="json")
    assert made.status_code == 201, made.json()
    shown = made.json()["client_certificate"]
    assert len(shown["fingerprint"]) == 95 and shown["expires_at"]
    body = made.content.decode() + api.get("/api/endpoints").content.decode()
    secret_line = client.key.splitlines()[1]
    assert secret_line not in body
    assert secret_line not in str(list(AuditEntry.objects.values("before", "after")))
    endpoint = Endpoint.objects.get()
    assert endpoint.client_key.strip() == client.key.strip()  # decrypted on read
    # Sent back without a key, the same certificate keeps the stored key.
    api.patch(f"/api/endpoints/{endpoint.endpoint_id}",
              {"client_certificate": client.certificate, "client_key": ""}, format="json")
    endpoint.refresh_from_db()
    assert endpoint.client_key.strip() == client.key.strip()
    # Both empty: none.
    api.patch(f"/api/endpoints/{endpoint.endpoint_id}",
              {"client_certificate": "", "client_key": ""}, format="json")
    endpoint.refresh_from_db()
    assert (endpoint.client_certificate, endpoint.client_key) == ("", None)


def test_no_decrypted_key_is_left_in_a_file_after_loading():
    authority = Authority()
    client = authority.issue("acme.com callbacks")
    secret_line = client.key.splitlines()[1]
    context = client_context(client.certificate, client.key, authority.pem)
    assert context is not None
    open_files = [os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
                  if os.path.exists(f"/proc/self/fd/{fd}")]
    assert not [name for name in open_files if "camio-client-key" in name]
    for folder in {tempfile.gettempdir(), "/dev/shm", os.getcwd()}:
        for path in Path(folder).glob("*"):
            if path.is_file() and path.stat().st_size < 1_000_000:
                try:
                    assert secret_line not in path.read_text(errors="ignore"), path
                except PermissionError:
                    continue


@pytest.mark.django_db
def test_an_expiring_certificate_is_warned_of_once(acme, acme_admin, endpoint_for,
                                                   django_capture_on_commit_callbacks):
    authority = Authority()
    client = authority.issue("acme.com callbacks", days=10)
    watched = endpoint_for("https://hooks.acme.com/in", ["camera.created"],
                           client_certificate=client.certificate, client_key=client.key)
    listener = endpoint_for("https://hooks.acme.com/ops", ["endpoint.certificate_expiring"])
    with django_capture_on_commit_callbacks(execute=True):
        assert operational.announce() == 1
    assert operational.announce() == 0
    [told] = Delivery.objects.filter(endpoint=listener)
    assert told.event_type == "endpoint.certificate_expiring"
    assert "expires soon" in mail.outbox[-1].subject
    watched.refresh_from_db()
    assert watched.client_certificate_warned_at is not None
    later = authority.issue("acme.com callbacks", days=400)
    from callbacks import services as callbacks

    callbacks.endpoint_update(endpoint=watched, actor=acme_admin, changes={
        "client_certificate": later.certificate, "client_key": later.key})
    watched.refresh_from_db()
    assert watched.client_certificate_warned_at is None
    assert watched.client_certificate_expires_at > datetime.datetime.now(datetime.UTC) + \
        datetime.timedelta(days=300)
    assert operational.announce() == 0


@pytest.mark.django_db
def test_the_form_takes_the_certificate_and_key_as_uploaded_files(acme_admin_client, acme):
    from django.core.files.uploadedfile import SimpleUploadedFile

    authority = Authority()
    client = authority.issue("acme.com callbacks")
    saved = acme_admin_client.post(f"/domains/{acme.name}/endpoints/new", {
        "method": "POST", "url": "https://hooks.acme.com/in", "event_types": ["camera.created"],
        "ordering": "none",
        "client_certificate_file": SimpleUploadedFile("client.crt", client.certificate.encode()),
        "client_key_file": SimpleUploadedFile("client.key", client.key.encode())})
    assert saved.status_code == 302
    endpoint = Endpoint.objects.get()
    assert endpoint.client_certificate_fingerprint and endpoint.client_key.strip() == \
        client.key.strip()
    page = acme_admin_client.get(f"/domains/{acme.name}/endpoints/{endpoint.endpoint_id}/edit")
    assert client.key.splitlines()[1] not in page.content.decode()
