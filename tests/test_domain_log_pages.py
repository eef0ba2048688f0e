"""Delivery log, delivery detail with copy-as-curl, resend, secret, replay, co-admins, audit."""

from __future__ import annotations

import datetime
import json
import re

import pytest
from django.core import mail
from django.utils import timezone

from callbacks.models import Attempt, Delivery, Endpoint, ReplayJob
from callbacks.selectors import FreshSignature, attempt_as_curl
from domains.formats import mask_url
from domains.models import AuditEntry, DomainAdministrator
from tests.support.portal import confirmed_post


@pytest.mark.django_db
def test_log_filters(acme_admin_client, sent_delivery):
    endpoint, _ = sent_delivery
    page = acme_admin_client.get("/domains/acme.com/deliveries").content.decode()
    assert "camera.created" in page and "HTTP 500" in page
    assert (
        "No deliveries match"
        in acme_admin_client.get(
            "/domains/acme.com/deliveries", {"state": "succeeded"}
        ).content.decode()
    )
    assert (
        "HTTP 500"
        in acme_admin_client.get(
            f"/domains/acme.com/endpoints/{endpoint.endpoint_id}/deliveries",
            {"state": "pending", "type": "camera.created"},
        ).content.decode()
    )
    later = (timezone.now() + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    assert (
        "No deliveries match"
        in acme_admin_client.get("/domains/acme.com/deliveries", {"since": later}).content.decode()
    )


@pytest.mark.django_db
def test_detail_masks_secrets_until_revealed(acme_admin_client, sent_delivery, acme_admin):
    _, delivery = sent_delivery
    url = f"/domains/acme.com/deliveries/{delivery.pk}"
    page = acme_admin_client.get(url).content.decode()
    assert str(delivery.event_id) in page and "oops" in page and "X-Why: down" in page
    assert "S3CR3T" not in page
    assert "$CAMIO_AUTHORIZATION" in page and "$CAMIO_WEBHOOK_SIGNATURE" in page
    assert "X-Team: ops" in page
    revealed = acme_admin_client.post(url).content.decode()
    assert "token S3CR3T" in revealed
    assert AuditEntry.objects.get(action="endpoint.headers_revealed").actor == acme_admin


@pytest.mark.django_db
def test_an_attempt_under_a_millisecond_reads_less_than_1_ms(acme_admin_client, sent_delivery):
    _, delivery = sent_delivery  # its attempt started and finished at the same moment
    page = acme_admin_client.get(f"/domains/acme.com/deliveries/{delivery.pk}").content.decode()
    assert "HTTP 500 in &lt; 1 ms" in page and " 0 ms" not in page


@pytest.mark.django_db
def test_resend_from_the_page(acme_admin_client, sent_delivery):
    _, delivery = sent_delivery
    url = f"/domains/acme.com/deliveries/{delivery.pk}/resend"
    answer = acme_admin_client.post(url, follow=True)
    assert "still being attempted" in answer.content.decode()  # pending retry
    Delivery.objects.update(state="failed")
    answer = acme_admin_client.post(url)
    assert answer.status_code == 302
    assert Delivery.objects.filter(event_id=delivery.event_id).count() == 2


@pytest.mark.django_db
def test_secret_reveal_and_rotate(acme_admin_client, sent_delivery, acme_admin):
    endpoint, _ = sent_delivery
    url = f"/domains/acme.com/endpoints/{endpoint.endpoint_id}/secret"
    secret = endpoint.current_key().secret
    assert secret not in acme_admin_client.get(url).content.decode()
    assert secret in acme_admin_client.post(url, {"action": "reveal"}).content.decode()
    confirmed_post(acme_admin_client, f"{url}/rotate")
    [older] = endpoint.signing_keys.exclude(expires_at=None)
    assert older.secret == secret and older.expires_at
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"endpoint.secret_revealed", "endpoint.secret_rotated"} <= actions


@pytest.mark.django_db
def test_replay_counts_then_starts(
    acme_admin_client, sent_delivery, django_capture_on_commit_callbacks
):
    endpoint, _ = sent_delivery
    Delivery.objects.update(state="failed")
    url = f"/domains/acme.com/endpoints/{endpoint.endpoint_id}/replay"
    window = {
        "start": (timezone.now() - datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "end": (timezone.now() + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
    }
    counted = acme_admin_client.post(url, {**window, "count": "1"}).content.decode()
    assert "<strong>1</strong> event(s) would be sent" in counted
    with django_capture_on_commit_callbacks(execute=False):
        answer = acme_admin_client.post(url, {**window, "confirm": "1"})
    job = ReplayJob.objects.get()
    assert answer["Location"] == f"/domains/acme.com/replays/{job.job_id}"
    progress = acme_admin_client.get(answer["Location"] + "?format=json").json()
    assert progress == {"state": "queued", "done": 0, "total": 1, "error": "",
                        "outcomes": {"succeeded": 0, "failed": 0, "pending": 0, "sending": 0,
                                     "cancelled": 0}}
    bad = acme_admin_client.post(
        url, {"start": window["end"], "end": window["start"], "count": "1"}
    )
    assert "must be after its start" in bad.content.decode()


@pytest.mark.django_db
def test_primary_admin_manages_co_admins(
    acme_admin_client, acme, acme_teammate, beta_admin, django_capture_on_commit_callbacks
):
    from django.test import Client

    answer = acme_admin_client.post("/domains/acme.com/admins/add", {"email": "guard@acme.com"})
    assert answer.status_code == 302
    assert DomainAdministrator.objects.filter(domain=acme, user=acme_teammate).exists()
    refused = acme_admin_client.post(
        "/domains/acme.com/admins/add", {"email": "it@beta.org"}, follow=True
    )
    assert "it@beta.org is not an address in acme.com" in refused.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        invited = acme_admin_client.post(
            "/domains/acme.com/admins/add", {"email": "new@acme.com"}, follow=True
        )
    assert "e-mailed an invitation" in invited.content.decode()
    assert mail.outbox[-1].to == ["new@acme.com"]
    assert DomainAdministrator.objects.filter(domain=acme, user__email="new@acme.com").exists()
    client = Client()
    client.force_login(acme_teammate)  # a co-admin may not manage admins
    assert (
        client.post("/domains/acme.com/admins/add", {"email": "guard@acme.com"}).status_code == 403
    )
    confirmed_post(acme_admin_client, f"/domains/acme.com/admins/{acme_teammate.user_id}/remove")
    assert not DomainAdministrator.objects.filter(user=acme_teammate).exists()


@pytest.mark.django_db
def test_audit_log_is_per_domain(acme_admin_client, sent_delivery, beta_admin):
    from django.test import Client

    client = Client()
    page = acme_admin_client.get("/domains/acme.com/audit").content.decode()
    assert "endpoint.created" in page and "camera.created" in page
    client.force_login(beta_admin)
    assert client.get("/domains/acme.com/audit").status_code == 404
    assert "endpoint.created" not in client.get("/domains/beta.org/audit").content.decode()


@pytest.mark.django_db
def test_other_domains_get_404_on_log_pages(client, sent_delivery, beta_admin):
    endpoint, delivery = sent_delivery
    client.force_login(beta_admin)
    for path in (
        f"/domains/acme.com/deliveries/{delivery.pk}",
        f"/domains/beta.org/deliveries/{delivery.pk}",
        f"/domains/acme.com/endpoints/{endpoint.endpoint_id}/secret",
        f"/domains/beta.org/endpoints/{endpoint.endpoint_id}/replay",
    ):
        assert client.get(path).status_code == 404, path
    assert client.post(f"/domains/beta.org/deliveries/{delivery.pk}/resend").status_code == 404
    assert json.loads(bytes(delivery.event.body))["type"] == "camera.created"


@pytest.mark.django_db
def test_replay_reads_times_in_the_browsers_zone_and_says_what_predates_the_endpoint(
    acme_admin_client, sent_delivery
):
    endpoint, delivery = sent_delivery
    Delivery.objects.update(state="failed")
    happened = delivery.event.created_at
    Endpoint.objects.filter(pk=endpoint.pk).update(
        created_at=happened + datetime.timedelta(seconds=1))
    url = f"/domains/acme.com/endpoints/{endpoint.endpoint_id}/replay"
    form = acme_admin_client.get(url).content.decode()
    # The form starts with the last 24 hours (in UTC until the page's script shows them
    # in the browser's zone).
    start = (timezone.now() - datetime.timedelta(hours=24)).strftime("%Y-%m-%dT%H:")
    assert f'value="{start}' in form and 'name="tz_offset"' in form
    local = happened + datetime.timedelta(hours=2)  # a browser at UTC+2
    window = {"start": (local - datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
              "end": (local + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")}
    counted = acme_admin_client.post(url, {**window, "tz_offset": "-120", "count": "1"})
    text = counted.content.decode()
    assert "<strong>1</strong> event(s) would be sent" in text
    assert "1 of them happened before this endpoint was added" in text
    # Read as UTC (no offset: no script), the same typed times miss the event.
    as_utc = acme_admin_client.post(url, {**window, "count": "1"}).content.decode()
    assert "<strong>0</strong> event(s) would be sent" in as_utc


@pytest.mark.django_db
def test_the_audit_log_shows_each_change_as_field_before_after_and_filters(
    acme_admin_client, sent_delivery, acme_admin
):
    from callbacks import services as cs

    endpoint, _ = sent_delivery
    cs.endpoint_update(endpoint=endpoint, actor=acme_admin,
                       changes={"description": "Head office", "method": "PUT"})
    page = acme_admin_client.get("/domains/acme.com/audit").content.decode()
    row = re.search(r"<code>endpoint.updated</code>.*?</table>", page, re.S).group(0)
    assert re.search(r'<th scope="row">method</th><td>POST</td><td>PUT</td>', row)
    assert re.search(r'<th scope="row">description</th><td>—</td><td>Head office</td>', row)
    assert "{&#x27;" not in page and "{'" not in page  # no Python dict reprs
    mine = acme_admin_client.get("/domains/acme.com/audit?actor=hq@acme.com").content.decode()
    assert "endpoint.updated" in mine and "endpoint.created" not in mine  # created by nobody
    system = acme_admin_client.get("/domains/acme.com/audit?actor=system").content.decode()
    assert "endpoint.created" in system and "endpoint.updated" not in system
    by_id = acme_admin_client.get(f"/domains/acme.com/audit?object={endpoint.endpoint_id}")
    assert "endpoint.updated" in by_id.content.decode()
    none = acme_admin_client.get("/domains/acme.com/audit?object=no-such-thing").content.decode()
    assert "Nothing matches." in none


def test_a_copied_curl_command_unmasks_the_url_only_when_signed_anew():
    real = "https://hq:pw@hooks.acme.com/cb"
    attempt = Attempt(request_method="GET", request_url=mask_url(real) + "?type=camera.created",
                      request_headers=[["webhook-signature", "v1,old"]])
    fresh = FreshSignature("evt_1", ["whsec_" + "A" * 32], 1_700_000_000)
    signed = attempt_as_curl(attempt, None, {}, fresh, endpoint_url=real)
    assert f"'{real}?type=camera.created'" in signed and "v1,old" not in signed
    kept = attempt_as_curl(attempt, None, endpoint_url=real)
    assert "hq:pw@" not in kept and mask_url(real) in kept
