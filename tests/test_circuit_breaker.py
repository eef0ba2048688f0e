"""P8's circuit breaker, through a real worker and a loopback receiver: an outage longer
than the whole retry schedule fails no delivery; while the circuit is open the only
attempts are probes, which move no delivery along its schedule; the first answer
closes it and the waiting deliveries drain. The sweeper (beat's task) is called by
the tests as beat would call it."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail

from callbacks import services as callback_services
from callbacks.delivery import sweeper
from callbacks.delivery.policy import judge
from callbacks.models import Attempt, Delivery, Endpoint
from domains import services
from tests.receiver import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


class Outage:
    """Answers 500 while ``down``, 200 after."""

    def __init__(self) -> None:
        self.down = True

    def __call__(self, index, request):
        return (500, {}, b"down") if self.down else (200, {}, b"ok")


def four_changes(acme_admin, box) -> None:
    for n in range(4):
        services.camera_create(owner=acme_admin, device=box, name=f"Camera {n}")


def sweep_until(predicate, what: str, timeout: float = 60):
    """Run the sweeper as beat does, until ``predicate`` holds."""

    def tick():
        sweeper.sweep()
        return predicate()

    return wait_for(tick, timeout=timeout, what=what)


def test_an_outage_longer_than_the_schedule_fails_nothing_and_probes_only(
    compressed_retries, worker, receiver, endpoint_for, acme_admin, box
):
    outage = Outage()
    receiver.answer = outage
    endpoint = endpoint_for(receiver.url, ["camera.created"])
    four_changes(acme_admin, box)
    opened = sweep_until(
        lambda: Endpoint.objects.get(pk=endpoint.pk).circuit_opened_at, "the circuit"
    )
    # Down for longer than the whole schedule: wait for four probes, each 0.3-0.6 s apart.
    sweep_until(lambda: Attempt.objects.filter(probe=True).count() >= 4, "four probes")
    assert not Delivery.objects.filter(state="failed").exists()
    # Every attempt started after the circuit opened is a probe; ones claimed before it
    # opened may start a few milliseconds after (the first probe waits 0.3 s).
    settle = datetime.timedelta(seconds=0.25)
    during = Attempt.objects.filter(started_at__gt=opened + settle).order_by("started_at")
    assert all(a.probe for a in during), [(a.number, a.probe) for a in during]
    probes = [a for a in during if a.probe]
    assert len({a.started_at for a in probes}) == len(probes)  # one at a time
    assert mail.outbox and "Callbacks paused" in mail.outbox[-1].subject
    outage.down = False
    sweep_until(lambda: Delivery.objects.filter(state="succeeded").count() == 4, "the drain")
    endpoint.refresh_from_db()
    assert endpoint.circuit_opened_at is None and endpoint.breaker_failures == 0
    for delivery in Delivery.objects.all():
        log = list(delivery.attempts.order_by("number"))
        regular_failures = [a for a in log if not a.succeeded and not a.probe]
        failed_probes = [a for a in log if a.probe and not a.succeeded]
        # Its retry position is where the outage found it: the failed probes used no slot.
        assert delivery.off_schedule_attempts == len(failed_probes)
        assert delivery.attempt_count - delivery.off_schedule_attempts == len(
            regular_failures
        ) + 1
        assert log[-1].succeeded
    subjects = [m.subject for m in mail.outbox]
    assert sum("paused" in s for s in subjects) == 1
    assert sum("resumed" in s for s in subjects) == 1


def test_with_the_breaker_off_the_schedule_runs_out(
    compressed_retries, worker, receiver, endpoint_for, acme_admin, box
):
    compressed_retries.CALLBACK_BREAKER_FAILURES = 0
    receiver.answer = Outage()
    endpoint = endpoint_for(receiver.url, ["camera.created"])
    four_changes(acme_admin, box)
    sweep_until(lambda: Delivery.objects.filter(state="failed").count() == 4, "four failures")
    assert Endpoint.objects.get(pk=endpoint.pk).circuit_opened_at is None
    assert not Attempt.objects.filter(probe=True).exists()
    assert set(Delivery.objects.values_list("attempt_count", flat=True)) == {5}


def test_4xx_answers_do_not_open_the_circuit(
    compressed_retries, worker, receiver, endpoint_for, acme_admin, box
):
    receiver.answer = lambda index, request: (422, {}, b"no")
    endpoint = endpoint_for(receiver.url, ["camera.created"])
    four_changes(acme_admin, box)
    sweep_until(lambda: Delivery.objects.filter(state="failed").count() == 4, "four failures")
    endpoint.refresh_from_db()
    assert endpoint.circuit_opened_at is None and endpoint.breaker_failures == 0


def test_a_new_url_closes_the_circuit_and_the_backlog_drains(
    compressed_retries, worker, receiver, endpoint_for, acme_admin, box
):
    compressed_retries.CALLBACK_BREAKER_PROBE_MIN = 3600
    compressed_retries.CALLBACK_BREAKER_PROBE_MAX = 3600
    receiver.answer = Outage()
    endpoint = endpoint_for("http://127.0.0.1:9/down", ["camera.created"])
    four_changes(acme_admin, box)
    sweep_until(lambda: Endpoint.objects.get(pk=endpoint.pk).circuit_opened_at, "the circuit")
    receiver.answer = lambda index, request: (200, {}, b"ok")
    callback_services.endpoint_update(
        endpoint=Endpoint.objects.get(pk=endpoint.pk), actor=acme_admin,
        changes={"url": receiver.url},
    )
    sweep_until(lambda: Delivery.objects.filter(state="succeeded").count() == 4, "the drain")
    assert len(receiver.received) == 4


def test_probe_now_sends_the_oldest_waiting_delivery(
    compressed_retries, worker, receiver, endpoint_for, acme_admin, box
):
    compressed_retries.CALLBACK_BREAKER_PROBE_MIN = 3600
    compressed_retries.CALLBACK_BREAKER_PROBE_MAX = 3600
    outage = Outage()
    receiver.answer = outage
    endpoint = endpoint_for(receiver.url, ["camera.created"])
    four_changes(acme_admin, box)
    sweep_until(lambda: Endpoint.objects.get(pk=endpoint.pk).circuit_opened_at, "the circuit")
    outage.down = False
    assert callback_services.endpoint_probe_now(endpoint=endpoint, actor=acme_admin)
    wait_for(lambda: Attempt.objects.filter(probe=True, succeeded=True).exists(), what="probe")
    sweep_until(lambda: Delivery.objects.filter(state="succeeded").count() == 4, "the drain")


@pytest.mark.parametrize(
    ("status", "headers", "refused", "trips"),
    [
        (None, {}, False, True),  # timeout, connection or TLS error
        (None, {}, True, False),  # refused by our own guard: a configuration error
        (500, {}, False, True),
        (503, {}, False, True),
        (503, {"retry-after": "10"}, False, False),  # pauses instead
        (429, {"retry-after": "10"}, False, False),
        (429, {}, False, False),
        (422, {}, False, False),  # the delivery's own problem
        (404, {}, False, False),
        (200, {}, False, False),
    ],
)
def test_which_answers_count_toward_the_breaker(status, headers, refused, trips):
    assert judge(status, headers, refused).trips_breaker is trips


def test_retry_after_pauses_the_whole_endpoint_and_not_the_others(
    compressed_retries, worker, endpoint_for, acme_admin, box
):
    from tests.receiver import Receiver

    paused, other = Receiver(), Receiver()
    try:
        paused.answer = lambda index, request: (
            (429, {"Retry-After": "10"}, b"slow down") if index == 0 else (200, {}, b"ok")
        )
        endpoint = endpoint_for(paused.url, ["camera.created"])
        endpoint_for(other.url, ["camera.created"])
        services.camera_create(owner=acme_admin, device=box, name="First")
        wait_for(lambda: paused.received and other.received, what="the first round")
        wait_for(lambda: Endpoint.objects.get(pk=endpoint.pk).paused_until, what="the pause")
        told = paused.received[0].at
        for n in range(3):
            services.camera_create(owner=acme_admin, device=box, name=f"Later {n}")
        sweep_until(lambda: len(other.received) == 4, "the other endpoint's deliveries")
        assert len(paused.received) == 1  # the paused endpoint got nothing meanwhile
        sweep_until(lambda: len(paused.received) == 5, "the paused endpoint's deliveries")
        # Acceptance (P8, 5): nothing of that endpoint for 10 s; the other one kept going.
        assert min(r.at for r in paused.received[1:]) >= told + 10 - 0.05
        assert max(r.at for r in other.received) < told + 10
        endpoint.refresh_from_db()
        assert endpoint.breaker_failures == 0 and endpoint.circuit_opened_at is None
    finally:
        paused.close()
        other.close()


def test_the_circuit_shows_on_the_domain_page_and_in_the_admin(
    client, acme, acme_admin, support, endpoint_for
):
    import datetime

    from django.utils import timezone

    endpoint = endpoint_for("https://hooks.example.com/in", ["camera.created"])
    opened = timezone.now() - datetime.timedelta(minutes=5)
    Endpoint.objects.filter(pk=endpoint.pk).update(
        circuit_opened_at=opened, next_probe_at=opened + datetime.timedelta(minutes=10),
        breaker_failures=10,
    )
    client.force_login(acme_admin)
    page = client.get(f"/domains/{acme.name}/").content.decode()
    assert "circuit open" in page and "0 waiting" in page and "next probe" in page
    client.force_login(support)
    listing = client.get("/admin/callbacks/endpoint/").content.decode()
    assert "open since" in listing


def test_the_api_shows_the_circuit_and_probes_on_request(api, acme, endpoint_for):
    import datetime

    from django.utils import timezone

    endpoint = endpoint_for("https://hooks.example.com/in", ["camera.created"])
    answer = api.get(f"/api/endpoints/{endpoint.endpoint_id}").json()
    assert answer["circuit"] == {"state": "closed", "opened_at": None, "next_probe_at": None,
                                 "failures": 0, "waiting": 0, "paused_until": None}
    opened = timezone.now() - datetime.timedelta(minutes=5)
    Endpoint.objects.filter(pk=endpoint.pk).update(
        circuit_opened_at=opened, next_probe_at=opened + datetime.timedelta(hours=1),
        breaker_failures=10,
    )
    listed = api.get("/api/endpoints").json()["results"][0]["circuit"]
    assert listed["state"] == "open" and listed["failures"] == 10
    probed = api.post(f"/api/endpoints/{endpoint.endpoint_id}/probe")
    assert probed.status_code == 200
    # Nothing waits, so no probe went out; the next one is due after the interval.
    assert probed.json()["circuit"]["state"] == "open"
