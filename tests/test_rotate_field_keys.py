"""`rotate_field_keys` re-encrypts every secret and header with the first key, so the
old key can be removed and every endpoint still sends signed callbacks."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError
from standardwebhooks.webhooks import Webhook

from callbacks.models import Endpoint, OAuthToken, SigningKey
from callbacks.services.key_rotation import Rotation, encrypted_fields, rotate_model
from domains import services
from tests.receiver import wait_for
from tests.support.field_keys import NEW, OLD, rotate
from tests.support.terminal import Terminal


@pytest.mark.django_db(transaction=True)
def test_after_rotation_the_old_key_can_go(
    settings, three_endpoints, worker, receiver, box, acme_admin
):
    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    out, err = rotate()
    # 3 endpoints' headers and 4 signing keys (the rotated endpoint has two).
    assert "Re-encrypted 7 values with the first key; 0 were already under it (7 rows)." in out
    assert "may now be removed" in out
    assert err == ""  # no progress bar when stderr is not a terminal

    settings.FIELD_ENCRYPTION_KEYS = [NEW]
    by_path = {urlsplit(e.url).path: e for e in Endpoint.objects.live()}
    assert Endpoint.objects.get(pk=three_endpoints[2].pk).current_key().secret.startswith("whsec_")
    services.camera_create(owner=acme_admin, device=box, name="After the rotation")
    wait_for(lambda: len(receiver.received) == 2, what="a callback to each live endpoint")
    assert {r.path for r in receiver.received} == set(by_path)
    for received in receiver.received:
        endpoint = by_path[received.path]
        assert received.headers["authorization"] == "token XYZPDQ"
        for secret in endpoint.signing_secrets():
            assert Webhook(secret).verify(received.body, received.headers)["type"] == (
                "camera.created"
            )


@pytest.mark.django_db
def test_without_it_removing_the_old_key_loses_the_secrets(settings, three_endpoints):
    settings.FIELD_ENCRYPTION_KEYS = [NEW]
    with pytest.raises(ImproperlyConfigured, match="was a key removed"):
        Endpoint.objects.get(pk=three_endpoints[0].pk)


@pytest.mark.django_db
def test_an_interrupted_run_resumes_and_a_second_run_has_nothing_to_do(
    settings, three_endpoints
):
    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    found = {model: sorted(names) for model, names in encrypted_fields()}
    assert found == {Endpoint: ["chat_url", "client_key", "headers", "oauth_client_secret"],
                     SigningKey: ["secret"], OAuthToken: ["token"]}
    next(rotate_model(SigningKey, ["secret"], 1, Rotation()))  # one batch of one row, stopped

    out, err = rotate(err=Terminal(), batch_size=2)
    assert "Re-encrypted 6 values with the first key; 1 were already under it" in out
    assert "7/7 [" in err and "rows/s]" in err  # tqdm's bar, on a terminal
    out, _ = rotate()
    assert "Re-encrypted 0 values with the first key; 7 were already under it" in out


@pytest.mark.django_db
def test_a_value_no_key_reads_is_named(settings, three_endpoints):
    settings.FIELD_ENCRYPTION_KEYS = [NEW]
    with pytest.raises(CommandError, match=r"7 values are readable by no key .*callbacks.End"):
        rotate()
