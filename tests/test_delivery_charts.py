"""P10's delivery charts, through a real worker and a loopback receiver, as P13 made them
honest: an endpoint's chart counts every attempt (in the hour it finished) and the
deliveries that failed for good (in the hour they ended); a delivery log's chart counts
its deliveries by how they ended, cancelled ones too, in the hour they were published;
attempt latencies land in the hour's histogram. Read back from the pages' tables, as a
user can."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest
from django.db.models.functions import TruncHour

from callbacks.models import Attempt, Delivery, EndpointLatencyStat
from domains import services
from tests.receiver import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def table_row(page: str, hour: str) -> dict[str, int]:
    """The chart table's figures for ``hour`` ("YYYY-MM-DD HH:00", or "total")."""
    row = re.search(rf'<tr data-hour="{hour}">(.*?)</tr>', page, re.S)
    assert row, f"no row for {hour}"
    cells = dict(re.findall(r'<td class="([\w-]+)">(\d+)</td>', row.group(1)))
    return {name: int(value) for name, value in cells.items()}


def test_the_chart_counts_attempts_and_the_deliveries_that_failed_for_good(
    settings, worker, receiver, endpoint_for, acme_admin, box, client
):
    settings.CALLBACK_RETRY_SCHEDULE = [0, 0.2, 0.2]  # three attempts within half a second
    settings.CALLBACK_RETRY_JITTER = 0
    settings.CALLBACK_SWEEP_INTERVAL = 0.2
    flaky_seen = Counter()

    def answer(index, request):
        name = json.loads(request.body)["data"]["object"]["camera"]["name"]
        if name.startswith("bad"):
            return 422, {}, b"never"
        if name == "flaky":
            flaky_seen[name] += 1
            return (500, {}, b"once") if flaky_seen[name] == 1 else (200, {}, b"ok")
        return 200, {}, b"ok"

    receiver.answer = answer
    endpoint_for(receiver.url, ["camera.created"])
    for n in range(30):
        services.camera_create(owner=acme_admin, device=box, name=f"ok {n}")
    for n in range(12):
        services.camera_create(owner=acme_admin, device=box, name=f"bad {n}")
    services.camera_create(owner=acme_admin, device=box, name="flaky")
    wait_for(lambda: not Delivery.objects.filter(state__in=["pending", "sending"]).exists(),
             timeout=60, what="every delivery finished")
    assert Delivery.objects.filter(state="succeeded").count() == 31
    assert Delivery.objects.filter(state="failed").count() == 12
    client.force_login(acme_admin)
    page = client.get("/domains/acme.com/").content.decode()
    assert "Attempts and deliveries per hour, last 24 hours" in page and "<svg" in page
    # Attempts: 30 + 1 succeeded; 12 x 3 (422) + 1 (500) failed. Deliveries: 12 gave up.
    assert table_row(page, "total") == {
        "succeeded": 31, "failed": 37, "gave-up": 12, "cancelled": 0, "circuit-openings": 0}
    # Per hour: attempts in the hour they finished, deliveries in the hour they ended (one
    # hour, unless the test straddled one).
    per_hour: dict[str, Counter] = {}
    for hour, ok in Attempt.objects.annotate(h=TruncHour("finished_at")).values_list(
        "h", "succeeded"
    ):
        per_hour.setdefault(f"{hour:%Y-%m-%d %H:00}", Counter())[
            "succeeded" if ok else "failed"] += 1
    for hour in Delivery.objects.filter(state="failed").annotate(
        h=TruncHour("finished_at")
    ).values_list("h", flat=True):
        per_hour.setdefault(f"{hour:%Y-%m-%d %H:00}", Counter())["gave-up"] += 1
    for hour, found in per_hour.items():
        assert table_row(page, hour) == {
            "succeeded": found["succeeded"], "failed": found["failed"],
            "gave-up": found["gave-up"], "cancelled": 0, "circuit-openings": 0,
        }
    # Every attempt is in the latency histogram: 30 + 12 x 3 + 2.
    assert sum(EndpointLatencyStat.objects.values_list("count", flat=True)) == 68
    assert "≤ " in page  # p50 and p95 shown as bucket bounds
    # The bars say the same on hover.
    assert re.search(r"<title>[^<]*: attempts: 31 succeeded, 37 failed</title>", page) \
        or len(per_hour) > 1
    assert re.search(r"<title>[^<]*: deliveries: 12 failed for good, 0 cancelled</title>",
                     page) or len(per_hour) > 1


def test_the_delivery_log_summarises_its_filter(acme, acme_admin, box, endpoint_for, client,
                                               django_capture_on_commit_callbacks):
    endpoint_for("https://hooks.acme.com/in", ["camera.created", "camera.updated"])
    with django_capture_on_commit_callbacks(execute=False):
        camera = services.camera_create(owner=acme_admin, device=box, name="One")
        services.camera_update(camera=camera, actor=acme_admin, changes={"name": "Two"})
    Delivery.objects.filter(event_type="camera.created").update(state="succeeded")
    client.force_login(acme_admin)
    hour = Delivery.objects.annotate(h=TruncHour("created_at")).values_list("h", flat=True)[0]
    everything = client.get("/domains/acme.com/deliveries").content.decode()
    assert "Deliveries matching the filter" in everything
    assert table_row(everything, f"{hour:%Y-%m-%d %H:00}") == {
        "succeeded": 1, "failed": 0, "cancelled": 0, "retrying": 1}
    created = client.get("/domains/acme.com/deliveries?type=camera.created").content.decode()
    assert table_row(created, f"{hour:%Y-%m-%d %H:00}") == {
        "succeeded": 1, "failed": 0, "cancelled": 0, "retrying": 0}
