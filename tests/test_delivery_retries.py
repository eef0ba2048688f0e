"""Acceptance 2 and the answer table: retries on the schedule, Retry-After, 410 Gone,
test events without retries, health once per batch."""

from __future__ import annotations

import datetime
import itertools

import pytest

from callbacks import services as callback_services
from callbacks.models import Attempt, Delivery, Endpoint
from domains import services
from tests.receiver import wait_for

SCHEDULE = [0, 1.0, 1.5, 2.0, 2.5]


def answers(*statuses, headers=None):
    def answer(index, request):
        status = statuses[index] if index < len(statuses) else statuses[-1]
        return status, (headers or {}) if status != 200 else {}, b"{}"

    return answer


@pytest.mark.django_db(transaction=True)
def test_three_503s_then_success(settings, worker, receiver, endpoint_for, box, acme_admin):
    settings.CALLBACK_RETRY_SCHEDULE = SCHEDULE
    receiver.answer = answers(503, 503, 503, 200)
    endpoint = endpoint_for(receiver.url, ["camera.created"])
    services.camera_create(owner=acme_admin, device=box, name="Flaky")
    delivery = wait_for(
        lambda: Delivery.objects.filter(state="succeeded").first(),
        timeout=30,
        what="the delivery to succeed",
    )
    attempts = list(Attempt.objects.filter(delivery=delivery).order_by("number"))
    assert [(a.number, a.response_status, a.succeeded) for a in attempts] == [
        (1, 503, False),
        (2, 503, False),
        (3, 503, False),
        (4, 200, True),
    ]
    for previous, attempt in itertools.pairwise(attempts):
        waited = (attempt.due_at - previous.finished_at).total_seconds()
        planned = SCHEDULE[previous.number]
        assert planned * 0.8 - 0.01 <= waited <= planned * 1.2 + 0.01
        assert attempt.started_at >= attempt.due_at
    assert delivery.attempt_count == 4
    ids = {r.headers["webhook-id"] for r in receiver.received}
    assert ids == {str(delivery.event_id)}
    # Each attempt is signed as it is sent (two less than a second apart may share a second).
    stamps = [int(r.headers["webhook-timestamp"]) for r in receiver.received]
    assert len(stamps) == 4
    assert all(abs(stamp - attempt.started_at.timestamp()) <= 1
               for stamp, attempt in zip(stamps, attempts, strict=True))
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0 and endpoint.failing_since is None
    assert endpoint.last_success_at == attempts[-1].finished_at
    assert attempts[0].configuration_error is False


@pytest.mark.django_db(transaction=True)
def test_schedule_spent_marks_failed_and_flags_4xx(
    settings, worker, receiver, endpoint_for, box, acme_admin
):
    settings.CALLBACK_RETRY_SCHEDULE = [0, 0.5]
    receiver.answer = answers(404)
    endpoint = endpoint_for(receiver.url, ["camera.created"])
    services.camera_create(owner=acme_admin, device=box, name="Nowhere")
    delivery = wait_for(
        lambda: Delivery.objects.filter(state="failed").first(),
        timeout=20,
        what="the delivery to fail",
    )
    assert delivery.attempt_count == 2 and delivery.last_status_code == 404
    assert all(a.configuration_error for a in delivery.attempts.all())
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 2 and endpoint.failing_since is not None
    assert endpoint.last_error == "HTTP 404"


@pytest.mark.django_db(transaction=True)
def test_retry_after_is_respected(settings, worker, receiver, endpoint_for, box, acme_admin):
    settings.CALLBACK_RETRY_SCHEDULE = [0, 0.1, 0.1]
    receiver.answer = answers(429, 200, headers={"Retry-After": "2"})
    endpoint_for(receiver.url, ["camera.created"])
    services.camera_create(owner=acme_admin, device=box, name="Busy")
    delivery = wait_for(
        lambda: Delivery.objects.filter(state="succeeded").first(),
        timeout=20,
        what="success after Retry-After",
    )
    first, second = delivery.attempts.order_by("number")
    assert (second.due_at - first.finished_at).total_seconds() >= 2.0
    assert first.configuration_error is False


@pytest.mark.django_db(transaction=True)
def test_410_disables_the_endpoint_and_cancels_pending(
    worker, receiver, endpoint_for, box, acme_admin, mailoutbox
):
    receiver.answer = answers(410)
    endpoint = endpoint_for(receiver.url, ["camera.created"])
    services.camera_create(owner=acme_admin, device=box, name="Gone")
    wait_for(lambda: not Endpoint.objects.get(pk=endpoint.pk).enabled, what="disabled")
    endpoint.refresh_from_db()
    assert endpoint.disabled_reason == "The endpoint answered 410 Gone."
    assert Delivery.objects.get().state == "failed"
    assert any("disabled" in m.subject for m in mailoutbox)


@pytest.mark.django_db(transaction=True)
def test_test_event_is_sent_once_and_not_counted(settings, worker, receiver, endpoint_for):
    settings.CALLBACK_RETRY_SCHEDULE = SCHEDULE
    receiver.answer = answers(500)
    endpoint = endpoint_for(receiver.url, ["camera.created"])
    delivery = callback_services.send_test_event(
        endpoint=endpoint, event_type="zone.created", actor=None
    )
    wait_for(lambda: Delivery.objects.get(pk=delivery.pk).state == "failed", what="one attempt")
    assert delivery.test and delivery.event.test
    assert Attempt.objects.filter(delivery=delivery).count() == 1
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0 and endpoint.last_attempt_at is None


@pytest.mark.django_db(transaction=True)
def test_every_method_is_sent_as_configured(worker, receiver, endpoint_for, box, acme_admin):
    for method in ("GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "POST"):
        endpoint_for(
            f"{receiver.url}/{method.lower()}?keep=1",
            ["camera.created"],
            method=method,
            headers={"Authorization": "token XYZPDQ", "X-Team": "ops"},
        )
    camera = services.camera_create(owner=acme_admin, device=box, name="Methods")
    wait_for(lambda: len(receiver.received) == 7, what="seven requests")
    by_method = {r.method: r for r in receiver.received}
    event_id = by_method["POST"].headers["webhook-id"]
    for method in ("GET", "HEAD"):
        request = by_method[method]
        assert request.body == b""
        assert (
            request.path == f"/{method.lower()}?keep=1&event_id={event_id}"
            "&event_type=camera.created"
        )
    for method in ("POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        request = by_method[method]
        assert camera.camera_id.encode() in request.body
        assert request.headers["content-type"] == "application/json"
    post = by_method["POST"].headers
    assert post["authorization"] == "token XYZPDQ" and post["x-team"] == "ops"
    assert post["user-agent"].startswith("camio-portal/")
    assert post["camio-event-date"].endswith("-0000")
    wait_for(lambda: Attempt.objects.count() == 7, what="seven recorded attempts")
    attempt = Attempt.objects.filter(request_method="POST").get()
    assert ["Authorization", "••••••"] in attempt.request_headers
    assert ["X-Team", "ops"] in attempt.request_headers


@pytest.mark.django_db(transaction=True)
def test_connection_refused_reads_well(settings, worker, endpoint_for, box, acme_admin):
    settings.CALLBACK_RETRY_SCHEDULE = [0]
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint_for(f"http://127.0.0.1:{port}/", ["camera.created"])
    services.camera_create(owner=acme_admin, device=box, name="Down")
    delivery = wait_for(lambda: Delivery.objects.filter(state="failed").first(), what="failure")
    assert delivery.attempts.get().error == "Connection refused"


@pytest.mark.django_db(transaction=True)
def test_timeout_reads_well(settings, worker, receiver, endpoint_for, box, acme_admin):
    settings.CALLBACK_RETRY_SCHEDULE = [0]
    settings.CALLBACK_TIMEOUT = 0.5
    receiver.hold_after = 0
    endpoint_for(receiver.url, ["camera.created"])
    services.camera_create(owner=acme_admin, device=box, name="Slow")
    delivery = wait_for(lambda: Delivery.objects.filter(state="failed").first(), what="timeout")
    assert delivery.attempts.get().error == "Timed out after 0.5 s"
    receiver.released.set()


@pytest.mark.django_db
def test_a_batch_is_recorded_with_one_statement_per_table(
    endpoint_for, acme, django_capture_on_commit_callbacks
):
    """P15: each delivery's bookkeeping is written once per batch: the rows locked and read,
    one COPY of attempts, one UPDATE of states, one of the endpoints' health and breakers
    (and their row locks), one upsert of the rollup."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from callbacks.delivery.claims import claim
    from callbacks.delivery.policy import Result, build_request
    from callbacks.delivery.recording import record
    from callbacks.publishing import publish_many

    endpoint = endpoint_for("https://hooks.acme.com/in", ["camera.created"])
    publish_many(domain=acme, events=[("camera.created", {"n": n}, "") for n in range(5)])
    jobs = claim([str(pk) for pk in Delivery.objects.values_list("id", flat=True)], 5)
    now = datetime.datetime.now(datetime.UTC)
    results = [Result(job=job, request=build_request(job, int(now.timestamp())),
                      started_at=now, finished_at=now, status=500) for job in jobs]
    with CaptureQueriesContext(connection) as queries:
        follow_up = record(results)
    statements = [q["sql"].split()[0].upper() for q in queries
                  if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    assert statements == ["SELECT", "SELECT", "UPDATE", "UPDATE", "WITH"], queries.captured_queries
    assert Attempt.objects.count() == 5  # the COPY (not a query Django sees)
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 5 and endpoint.last_error == "HTTP 500"
    assert len(follow_up.retries) == 5
    assert set(Delivery.objects.values_list("state", "attempt_count")) == {("pending", 1)}
