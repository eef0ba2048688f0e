"""P17 (6): a run that uses all four (ed25519, a client certificate, OAuth2, the egress
proxy) and an error reported to a loopback Sentry: no secret's value is in the log lines,
the Sentry envelopes, the API's answers, the audit log or the attempt log."""

from __future__ import annotations

import json
import logging

import pytest

from callbacks.models import Attempt, Delivery, SigningScheme
from domains import services
from domains.models import AuditEntry
from tests.receiver import Receiver, wait_for
from tests.support.certificates import Authority
from tests.support.oauth import SECRET, credentials, token_server
from tests.support.proxy import LoggingProxy

NAME = "secure.test"
PROXY_PASSWORD = "pr0xy-pa55w0rd-77"


@pytest.mark.django_db(transaction=True)
def test_no_secret_of_the_four_shows_anywhere(
    settings, worker, endpoint_for, box, acme_admin, api, loopback_names, tmp_path, caplog,
    in_process_sentry
):
    caplog.set_level(logging.DEBUG)
    loopback_names.add(NAME)
    settings.CALLBACK_RETRY_SCHEDULE = [0]
    authority = Authority()
    client = authority.issue("acme.com callbacks")
    receiver = Receiver(tls=authority.server_context(NAME, tmp_path))
    tokens, proxy = token_server(), LoggingProxy()
    settings.CALLBACK_PROXY_URL = proxy.url.replace("http://", f"http://camio:{PROXY_PASSWORD}@")
    settings.CALLBACK_NO_PROXY = ["127.0.0.1"]  # the token server, on loopback, directly
    port = receiver.url.rsplit(":", 1)[1]
    try:
        endpoint = endpoint_for(f"https://{NAME}:{port}/in", ["camera.created"],
                                signing="both", client_certificate=client.certificate,
                                client_key=client.key, ca_bundle=authority.pem,
                                **credentials(tokens))
        services.camera_create(owner=acme_admin, device=box, name="Everything at once")
        delivery = wait_for(lambda: Delivery.objects.filter(state="succeeded").first(),
                            timeout=30, what="the delivery")
        assert f"CONNECT 127.0.0.1:{port}" in proxy.log
        assert receiver.received[0].headers["authorization"] == "Bearer tok-1"
        answers = [api.get(path).content.decode() for path in (
            "/api/endpoints", f"/api/endpoints/{endpoint.endpoint_id}",
            f"/api/endpoints/{endpoint.endpoint_id}/secret",
            f"/api/deliveries/{delivery.pk}")]
        ed25519 = endpoint.current_key(SigningScheme.ED25519).secret

        def fails_holding_the_secrets(key: str, secret: str, token: str) -> None:
            raise RuntimeError("a delivery error")  # its frame holds the secrets as locals

        import sentry_sdk

        try:
            fails_holding_the_secrets(client.key, SECRET, "tok-1")
        except RuntimeError as exc:
            sentry_sdk.capture_exception(exc)
        logging.getLogger("callbacks").error("an error line for Sentry")
        sentry_sdk.flush(5)
        wait_for(lambda: len(in_process_sentry.events()) >= 2, timeout=30, what="two events")
    finally:
        receiver.close()
        tokens.close()
        proxy.close()
    secrets = {"client key": client.key.splitlines()[1], "OAuth2 client secret": SECRET,
               "OAuth2 token": "tok-1", "ed25519 private key": ed25519.removeprefix("whsk_"),
               "proxy password": PROXY_PASSWORD}
    places = {
        "log lines": caplog.text,
        "Sentry": b"\n".join(in_process_sentry.envelopes).decode(errors="replace"),
        "API answers": "\n".join(answers),
        "audit log": json.dumps(list(AuditEntry.objects.values("before", "after")),
                                default=str),
        "attempt log": json.dumps(list(Attempt.objects.values(
            "request_headers", "request_url", "error", "response_body")), default=str),
    }
    found = [(what, where) for what, value in secrets.items()
             for where, text in places.items() if value in text]
    assert found == []
