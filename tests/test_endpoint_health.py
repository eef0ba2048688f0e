"""P13 item 4: endpoint health tells the truth. One selector counts attempts (not only the
deliveries that ended), failed attempts (5xx, timeouts, refused connections, 4xx), the
deliveries that failed for good or were cancelled, and the circuit openings, per hour and
over 24 hours; the domain page, the endpoint's chart, the API and the admin all show it."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from callbacks import services as callback_services
from callbacks.delivery.recording import CIRCUIT_OPENED
from callbacks.endpoint_health import endpoint_health
from callbacks.models import Attempt, Delivery, Endpoint
from domains import services
from domains.models import AuditEntry
from tests.receiver import wait_for
from tests.support.health import (
    chart_svg,
    chart_total,
    circuit_opened,
    ended_delivery,
    health_cell,
    hour_sums,
    record_answers,
    rolled_up,
    segments,
)
from tests.support.portal import signed_in, url

HOUR = datetime.timedelta(hours=1)


def counts(hour) -> tuple[int, int, int, int, int]:
    return (hour.succeeded, hour.failed, hour.gave_up, hour.cancelled, hour.circuit_openings)


@pytest.mark.django_db
def test_each_kind_is_counted_in_its_hour_and_nothing_outside_the_24_hours(
    quiet_endpoint, endpoint_for
):
    endpoint, other = quiet_endpoint, endpoint_for("https://other.example.com/hook")
    now = timezone.now()
    this_hour = now.replace(minute=0, second=0, microsecond=0)
    earlier, first, before = this_hour - 3 * HOUR, this_hour - 23 * HOUR, this_hour - 24 * HOUR
    rolled_up(endpoint, earlier, succeeded=50, failed=11)  # 5xx, timeouts, refusals alike
    rolled_up(endpoint, this_hour, succeeded=4, failed=0)
    rolled_up(endpoint, first, succeeded=1, failed=0)  # the window's first hour: in
    rolled_up(endpoint, before, succeeded=100, failed=100)  # the hour before it: out
    rolled_up(other, earlier, succeeded=7, failed=7)
    for _ in range(2):
        ended_delivery(endpoint, "failed", earlier + datetime.timedelta(minutes=10))
    for _ in range(30):
        ended_delivery(endpoint, "cancelled", now)
    ended_delivery(endpoint, "cancelled", before + datetime.timedelta(minutes=30))  # out
    ended_delivery(endpoint, "cancelled", now, test=True)  # test deliveries are no health
    ended_delivery(endpoint, "succeeded", now)  # its attempt is in the rollup already
    ended_delivery(other, "cancelled", now)
    circuit_opened(endpoint, earlier + datetime.timedelta(minutes=5))
    circuit_opened(endpoint, this_hour - 30 * HOUR)  # out
    circuit_opened(endpoint, earlier, action="endpoint.probed")  # not an opening
    circuit_opened(other, earlier)

    health = endpoint_health([endpoint, other], until=now)

    mine = health[endpoint.pk]
    assert [h.hour for h in mine.hours] == [first + n * HOUR for n in range(24)]
    assert (mine.since, mine.until) == (first, this_hour + HOUR)
    by_hour = {h.hour: counts(h) for h in mine.hours}
    assert by_hour.pop(earlier) == (50, 11, 2, 0, 1)
    assert by_hour.pop(this_hour) == (4, 0, 0, 30, 0)
    assert by_hour.pop(first) == (1, 0, 0, 0, 0)
    assert set(by_hour.values()) == {(0, 0, 0, 0, 0)}
    assert counts(mine.total) == (55, 11, 2, 30, 1)
    assert mine.success_percent == 83.3
    assert mine.summary == (
        "83.3 % of 66 attempts succeeded; 11 failed; 2 deliveries failed for good; "
        "30 deliveries cancelled; circuit opened 1 time"
    )
    assert counts(health[other.pk].total) == (7, 7, 0, 1, 1)


@pytest.mark.django_db
def test_the_recorder_counts_5xx_timeouts_and_refusals_as_failed_and_records_the_opening(
    settings, quiet_endpoint
):
    settings.CALLBACK_BREAKER_FAILURES = 3
    record_answers(quiet_endpoint, [
        (200, ""),
        (422, ""),  # a failed attempt, but the receiver answered: the breaker starts over
        (500, ""),
        (None, "Timed out after 15 s"),
        (None, "Connection refused"),  # the third in a row: the circuit opens
    ])

    health = endpoint_health([quiet_endpoint])[quiet_endpoint.pk]

    assert counts(health.total) == (1, 4, 0, 0, 1)
    assert health.summary == "20.0 % of 5 attempts succeeded; 4 failed; circuit opened 1 time"
    opening = AuditEntry.objects.get(action=CIRCUIT_OPENED)
    assert opening.object_id == quiet_endpoint.endpoint_id
    assert opening.domain_id == quiet_endpoint.domain_id
    assert opening.after == {"consecutive_failures": 3}
    assert Endpoint.objects.get(pk=quiet_endpoint.pk).circuit_opened_at is not None


@pytest.mark.django_db
def test_the_share_never_rounds_up_to_all_and_no_attempts_says_so(quiet_endpoint,
                                                                   endpoint_for):
    idle = endpoint_for("https://idle.example.com/hook")
    now = timezone.now()
    rolled_up(quiet_endpoint, now.replace(minute=0, second=0, microsecond=0), 1999, 1)
    for _ in range(3):
        ended_delivery(idle, "cancelled", now)

    health = endpoint_health([quiet_endpoint, idle], until=now)

    assert health[quiet_endpoint.pk].success_percent == 99.9
    assert health[quiet_endpoint.pk].summary == "99.9 % of 2,000 attempts succeeded; 1 failed"
    assert health[idle.pk].success_percent is None
    assert health[idle.pk].summary == "No attempts; 3 deliveries cancelled"


@pytest.mark.django_db
def test_the_health_of_many_endpoints_costs_four_queries(quiet_endpoint, endpoint_for):
    one = [quiet_endpoint]
    three = [*one, endpoint_for("https://b.example.com/"), endpoint_for("https://c.example.com/")]
    for endpoint in three:
        rolled_up(endpoint, timezone.now().replace(minute=0, second=0, microsecond=0), 3, 1)
        ended_delivery(endpoint, "cancelled", timezone.now())
        circuit_opened(endpoint, timezone.now())

    with CaptureQueriesContext(connection) as for_one:
        endpoint_health(one)
    with CaptureQueriesContext(connection) as for_three:
        health = endpoint_health(three)

    assert len(for_one) == len(for_three) == 4
    assert {counts(h.total) for h in health.values()} == {(3, 1, 0, 1, 1)}


@pytest.mark.django_db
def test_the_admin_list_reads_its_page_s_health_in_one_go(support_client, quiet_endpoint,
                                                          endpoint_for):
    ended_delivery(quiet_endpoint, "cancelled", timezone.now())
    with CaptureQueriesContext(connection) as for_one:
        support_client.get("/admin/callbacks/endpoint/")
    for name in ("b", "c"):
        ended_delivery(endpoint_for(f"https://{name}.example.com/"), "cancelled", timezone.now())
    with CaptureQueriesContext(connection) as for_three:
        page = support_client.get("/admin/callbacks/endpoint/").content.decode()

    assert len(for_one) == len(for_three)
    assert page.count("No attempts; 1 delivery cancelled") == 3


@pytest.mark.django_db(transaction=True)
def test_an_outage_shows_as_failed_attempts_cancellations_and_an_opening_everywhere(
    compressed_retries, worker, receiver, endpoint_for, acme_admin, box, api, support_client
):
    # No probes once the circuit is open, so the attempts stop at the opening.
    compressed_retries.CALLBACK_BREAKER_PROBE_MIN = 3600
    compressed_retries.CALLBACK_BREAKER_PROBE_MAX = 3600
    endpoint = endpoint_for(receiver.url, ["camera.created"])
    for n in range(8):
        services.camera_create(owner=acme_admin, device=box, name=f"Up {n}")
    wait_for(lambda: Delivery.objects.filter(state="succeeded").count() == 8, what="8 delivered")
    receiver.answer = lambda index, request: (500, {}, b"down")
    services.camera_create(owner=acme_admin, device=box, name="Down 0")
    wait_for(lambda: Endpoint.objects.get(pk=endpoint.pk).circuit_opened_at, timeout=30,
             what="the circuit to open (three 500s in a row)")
    for n in range(1, 30):
        services.camera_create(owner=acme_admin, device=box, name=f"Down {n}")
    wait_for(lambda: Delivery.objects.filter(state="pending").count() == 30
             and not Delivery.objects.filter(state="sending").exists(),
             what="30 deliveries waiting behind the circuit")
    cancelled = callback_services.endpoint_disable(endpoint=endpoint, actor=acme_admin,
                                                   reason="down for the test")

    # What happened, from the rows themselves: 11 requests, 8 answered 200, 3 answered 500.
    assert cancelled == 30
    assert len(receiver.received) == 11
    assert Attempt.objects.filter(succeeded=True).count() == 8
    assert Attempt.objects.filter(succeeded=False, response_status=500).count() == 3
    assert Delivery.objects.filter(state="cancelled").count() == 30
    assert AuditEntry.objects.filter(action=CIRCUIT_OPENED).count() == 1
    summary = ("72.7 % of 11 attempts succeeded; 3 failed; 30 deliveries cancelled; "
               "circuit opened 1 time")
    table = {"succeeded": 8, "failed": 3, "gave-up": 0, "cancelled": 30, "circuit-openings": 1}
    svg = {"attempts succeeded": 8, "attempts failed": 3, "deliveries failed for good": 0,
           "deliveries cancelled": 30, "circuit openings": 1}
    admin = signed_in(acme_admin)
    chart_id = endpoint.endpoint_id

    domain_page = admin.get(url("domains:domain", "acme.com")).content.decode()
    assert health_cell(domain_page, endpoint) == ("72.7 % of 11 attempts; 3 failed", summary)
    for page in (domain_page,
                 admin.get(url("domains:endpoint_edit", "acme.com", chart_id)).content.decode()):
        assert summary in page
        assert chart_total(page, chart_id) == hour_sums(page, chart_id) == table
        assert chart_svg(page, chart_id) == svg
        assert segments(page, chart_id, "bad") >= 1 and segments(page, chart_id, "cancelled") >= 1
        assert "delivery cancelled</li>" in page and "circuit opened</li>" in page

    answer = api.get(f"/api/endpoints/{endpoint.endpoint_id}/health").json()
    assert answer["total"] == {"attempts": 11, "succeeded": 8, "failed": 3,
                               "failed_for_good": 0, "cancelled": 30, "circuit_openings": 1}
    assert (answer["endpoint_id"], answer["success_percent"], answer["summary"]) == (
        endpoint.endpoint_id, 72.7, summary)
    assert len(answer["hours"]) == 24
    for name in ("succeeded", "failed", "failed_for_good", "cancelled", "circuit_openings"):
        assert sum(hour[name] for hour in answer["hours"]) == answer["total"][name]

    log = admin.get(url("domains:endpoint_deliveries", "acme.com", chart_id)).content.decode()
    assert hour_sums(log, "log") == {"succeeded": 8, "failed": 0, "cancelled": 30, "retrying": 0}
    assert summary in support_client.get("/admin/callbacks/endpoint/").content.decode()
