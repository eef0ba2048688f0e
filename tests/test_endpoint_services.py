"""Disable, enable, soft delete, rotate, reveal, resend, replay, retention."""

from __future__ import annotations

import datetime
import io
import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone
from jsonschema import Draft202012Validator

from callbacks import catalog
from callbacks import services as cs
from callbacks.delivery import sweeper
from callbacks.models import Delivery, EndpointHourlyStat, Event, ReplayJob
from domains import services
from domains.models import AuditEntry
from tests.receiver import wait_for
from tests.support.events import ids_in


def make_events(box, owner, count, capture):
    with capture(execute=False):
        return [
            services.camera_create(owner=owner, device=box, name=f"Cam {i}") for i in range(count)
        ]


@pytest.mark.django_db
def test_disable_cancels_pending_and_enable_restarts(
    quiet_endpoint, box, acme_admin, django_capture_on_commit_callbacks, mailoutbox
):
    make_events(box, acme_admin, 3, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        cancelled = cs.endpoint_disable(
            endpoint=quiet_endpoint, actor=acme_admin, reason="Maintenance"
        )
    assert cancelled == 3
    assert set(Delivery.objects.values_list("state", flat=True)) == {"cancelled"}
    assert all("Maintenance" in e for e in Delivery.objects.values_list("last_error", flat=True))
    assert mailoutbox[-1].to == ["hq@acme.com"] and "Maintenance" in mailoutbox[-1].body
    make_events(box, acme_admin, 1, django_capture_on_commit_callbacks)
    assert Delivery.objects.count() == 3  # a disabled endpoint gets no new deliveries
    cs.endpoint_enable(endpoint=quiet_endpoint, actor=acme_admin)
    make_events(box, acme_admin, 1, django_capture_on_commit_callbacks)
    assert Delivery.objects.filter(state="pending").count() == 1
    actions = list(
        AuditEntry.objects.filter(action__startswith="endpoint.").values_list("action", flat=True)
    )
    assert {"endpoint.disabled", "endpoint.enabled"} <= set(actions)


@pytest.mark.django_db
def test_soft_delete_keeps_the_log(
    quiet_endpoint, box, acme_admin, django_capture_on_commit_callbacks
):
    make_events(box, acme_admin, 2, django_capture_on_commit_callbacks)
    cs.endpoint_delete(endpoint=quiet_endpoint, actor=acme_admin)
    quiet_endpoint.refresh_from_db()
    assert quiet_endpoint.deleted_at and not quiet_endpoint.enabled
    assert Delivery.objects.filter(endpoint=quiet_endpoint, state="cancelled").count() == 2
    with pytest.raises(ValidationError, match="deleted endpoint cannot be enabled"):
        cs.endpoint_enable(endpoint=quiet_endpoint, actor=acme_admin)


@pytest.mark.django_db
def test_reveal_and_rotate_are_audited(quiet_endpoint, acme_admin):
    secret = cs.endpoint_reveal_secret(endpoint=quiet_endpoint, actor=acme_admin)
    assert secret == quiet_endpoint.current_key().secret
    rotated = cs.endpoint_rotate_secret(endpoint=quiet_endpoint, actor=acme_admin)
    [older] = rotated.signing_keys.exclude(expires_at=None)
    assert older.secret == secret and rotated.current_key().secret != secret
    assert older.expires_at > timezone.now() + datetime.timedelta(hours=23)
    assert rotated.signing_secrets() == [rotated.current_key().secret, secret]
    assert cs.endpoint_reveal_secret(endpoint=rotated, actor=acme_admin) != secret
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"endpoint.secret_revealed", "endpoint.secret_rotated"} <= actions
    assert not any(secret in str(e.after) for e in AuditEntry.objects.all())


@pytest.mark.django_db
def test_resend_makes_a_new_delivery_of_the_same_event(
    quiet_endpoint, box, acme_admin, django_capture_on_commit_callbacks
):
    make_events(box, acme_admin, 1, django_capture_on_commit_callbacks)
    original = Delivery.objects.get()
    with pytest.raises(ValidationError, match="still being attempted"):
        cs.delivery_resend(delivery=original, actor=acme_admin)
    Delivery.objects.update(state="failed")
    original.refresh_from_db()
    fresh = cs.delivery_resend(delivery=original, actor=acme_admin)
    assert fresh.event_id == original.event_id and fresh.pk != original.pk
    assert fresh.state == "pending"


@pytest.mark.django_db
def test_replay_counts_then_creates_deliveries(
    quiet_endpoint, endpoint_for, box, acme_admin, django_capture_on_commit_callbacks
):
    start = timezone.now() - datetime.timedelta(seconds=1)
    make_events(box, acme_admin, 4, django_capture_on_commit_callbacks)
    end = timezone.now() + datetime.timedelta(seconds=1)
    rows = list(Delivery.objects.order_by("created_at"))
    Delivery.objects.filter(pk=rows[0].pk).update(state="succeeded")
    Delivery.objects.filter(pk__in=[rows[1].pk, rows[2].pk]).update(state="failed")
    # rows[3] is still pending: left alone. An event the endpoint never got counts too:
    with django_capture_on_commit_callbacks(execute=False):
        cs.endpoint_disable(endpoint=quiet_endpoint, actor=None, reason="pause")
        services.camera_create(owner=acme_admin, device=box, name="While disabled")
        cs.endpoint_enable(endpoint=quiet_endpoint, actor=None)
    end = timezone.now() + datetime.timedelta(seconds=1)
    window = {"endpoint": quiet_endpoint, "start": start, "end": end}
    # rows[3] was cancelled by the pause, so it is finished now too.
    assert cs.replay_count(**window) == 4
    assert cs.replay_count(**window, include_all=True) == 5
    with django_capture_on_commit_callbacks(execute=False):
        job = cs.replay_start(**window, actor=acme_admin)
    assert job.total == 4 and job.state == "queued"
    with django_capture_on_commit_callbacks(execute=False):
        finished = cs.replay_run(job_id=job.job_id, chunk=2)
    assert finished.state == "done" and finished.done == 4
    replayed = Delivery.objects.filter(replay=True)
    assert replayed.count() == 4 and set(replayed.values_list("state", flat=True)) == {"pending"}
    assert cs.replay_count(**window) == 0  # the new deliveries are in progress
    with pytest.raises(ValidationError, match="end of the range must be after"):
        cs.replay_count(endpoint=quiet_endpoint, start=end, end=start)
    assert AuditEntry.objects.filter(action="endpoint.replay_started").exists()
    assert ReplayJob.objects.get().created_by == acme_admin


@pytest.mark.django_db
def test_retention_deletes_old_events_in_batches(
    settings, quiet_endpoint, box, acme_admin, django_capture_on_commit_callbacks
):
    settings.RETENTION_BATCH = 2
    make_events(box, acme_admin, 5, django_capture_on_commit_callbacks)
    Event.objects.update(created_at=timezone.now() - datetime.timedelta(days=31))
    make_events(box, acme_admin, 1, django_capture_on_commit_callbacks)
    assert cs.retention_purge() == 5
    assert Event.objects.count() == 1 and Delivery.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_send_test_event_command(receiver, endpoint_for):
    endpoint = endpoint_for(receiver.url, ["camera.created"])
    out = io.StringIO()
    call_command(
        "send_test_event", "--endpoint", endpoint.endpoint_id, "--type", "zone.created", stdout=out
    )
    text = out.getvalue()
    assert "HTTP 200" in text and "succeeded" in text
    [received] = receiver.received
    assert received.headers["webhook-id"] in text
    with pytest.raises(CommandError, match="no endpoint with the id"):
        call_command("send_test_event", "--endpoint", "nope")


@pytest.mark.django_db(transaction=True)
def test_the_sweeper_takes_back_an_expired_lease_and_a_worker_sends_it_again(
    settings, worker, receiver, endpoint_for, box, acme_admin
):
    endpoint_for(receiver.url, ["camera.created"])
    with transaction.atomic():  # committed as claimed by a worker that is gone
        services.camera_create(owner=acme_admin, device=box, name="Lost message")
        Delivery.objects.update(
            state="sending", lease_expires_at=timezone.now() - datetime.timedelta(seconds=1))
    delivery = Delivery.objects.get()
    report = sweeper.sweep()
    assert report["taken_back"] == 1
    wait_for(lambda: Delivery.objects.get(pk=delivery.pk).state == "succeeded", what="swept")
    assert len(receiver.received) == 1
    unknown, sent = Delivery.objects.get(pk=delivery.pk).attempts.order_by("number")
    assert (unknown.number, unknown.outcome_unknown, unknown.response_status) == (1, True, None)
    assert unknown.error.startswith("Outcome unknown: the worker stopped while sending")
    assert (sent.number, sent.outcome_unknown, sent.succeeded) == (2, False, True)


@pytest.mark.django_db(transaction=True)
def test_an_unknown_outcome_uses_no_retry_slot_and_no_health(
    settings, worker, receiver, endpoint_for, box, acme_admin
):
    settings.CALLBACK_RETRY_SCHEDULE = [0, 3600]  # the first attempt, then one retry
    settings.CALLBACK_RETRY_JITTER = 0  # (with 20 % it could be 2,880 s away)
    endpoint = endpoint_for(receiver.url, ["camera.created"])
    receiver.answer = lambda index, request: (500, {}, b"down")
    with transaction.atomic():  # committed as claimed by a worker that is gone
        services.camera_create(owner=acme_admin, device=box, name="Lost while sending")
        Delivery.objects.update(
            state="sending", lease_expires_at=timezone.now() - datetime.timedelta(seconds=1),
            next_attempt_at=timezone.now() - datetime.timedelta(seconds=60))
    delivery = Delivery.objects.get()
    assert sweeper.sweep() == {"taken_back": 1, "probes": 0}
    endpoint.refresh_from_db()
    assert (endpoint.consecutive_failures, endpoint.last_attempt_at) == (0, None)
    assert not EndpointHourlyStat.objects.exists()
    # The first real attempt fails: the one retry of the schedule is still there.
    wait_for(lambda: Delivery.objects.get(pk=delivery.pk).attempt_count == 2, what="attempt 2")
    delivery.refresh_from_db()
    assert delivery.state == "pending" and delivery.off_schedule_attempts == 1
    assert delivery.next_attempt_at > timezone.now() + datetime.timedelta(seconds=3000)
    assert [a.outcome_unknown for a in delivery.attempts.order_by("number")] == [True, False]
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 1
    assert EndpointHourlyStat.objects.get().failed == 1


@pytest.mark.django_db
@pytest.mark.parametrize("event_type", catalog.NAMES)
def test_a_test_event_is_marked_and_borrows_nothing_of_the_domains_objects(
    event_type, acme, camera, endpoint_for, django_capture_on_commit_callbacks
):
    endpoint = endpoint_for("https://hooks.acme.com/in", [event_type])
    with django_capture_on_commit_callbacks(execute=False):
        delivery = cs.send_test_event(endpoint=endpoint, event_type=event_type, actor=None)
    body = json.loads(bytes(delivery.event.body))
    assert body["test"] is True and set(body) == {"data", "id", "type", "test"}
    Draft202012Validator(catalog.get(event_type).envelope_schema()).validate(body)
    ids = ids_in(body["data"]["object"])
    assert ids and all(value.startswith("test_") for value in ids.values()), ids
    # The domain's own name, none of its camera's, Box's or owner's ids (P10 borrowed them).
    text = json.dumps(body)
    assert "@acme.com" in text or acme.name in text
    for real in (camera.camera_id, camera.device.device_id, camera.owner.user_id):
        assert real not in text
