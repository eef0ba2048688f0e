"""P8's endpoint-wide limits, held across two worker processes (this one's and a
child's): an endpoint's ``rate_limit`` and the in-flight cap count every worker's
deliveries together; a limit's bad input is refused with the field named."""

from __future__ import annotations

import threading
import time

import pytest

from callbacks.models import Delivery, Endpoint
from callbacks.publishing import publish_many
from tests.receiver import Receiver, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def publish(acme, count: int) -> None:
    publish_many(domain=acme, events=[("camera.created", {"n": n}, "") for n in range(count)])


def busiest_second(times: list[float]) -> int:
    """The most requests that arrived within any one-second window."""
    times = sorted(times)
    return max(sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times))


def test_a_rate_limit_holds_across_two_workers(start_two_workers, acme, endpoint_for):
    receiver = Receiver()
    try:
        endpoint_for(receiver.url, ["camera.created"], rate_limit=5)
        with start_two_workers():
            publish(acme, 100)
            wait_for(lambda: len(receiver.received) == 100, timeout=60, what="100 callbacks")
        assert busiest_second([r.at for r in receiver.received]) <= 6
        assert Delivery.objects.filter(state="succeeded").count() == 100
        # Not slower than it must be either: 100 at 5 a second take about 20 s.
        span = max(r.at for r in receiver.received) - min(r.at for r in receiver.received)
        assert 19 <= span < 30, span
    finally:
        receiver.close()


def test_the_in_flight_cap_holds_across_two_workers(
    start_two_workers, acme, endpoint_for, settings
):
    settings.CALLBACK_ENDPOINT_INFLIGHT = 3
    lock, busy = threading.Lock(), {"now": 0, "most": 0}

    def slow(index, request):
        with lock:
            busy["now"] += 1
            busy["most"] = max(busy["most"], busy["now"])
        time.sleep(0.2)  # a slow receiver: each answer takes 0.2 s
        with lock:
            busy["now"] -= 1
        return 200, {}, b"ok"

    receiver = Receiver(answer=slow)
    try:
        endpoint_for(receiver.url, ["camera.created"])
        with start_two_workers(CALLBACK_ENDPOINT_INFLIGHT="3"):
            publish(acme, 30)
            wait_for(lambda: Delivery.objects.filter(state="succeeded").count() == 30,
                     timeout=60, what="30 deliveries")
        assert busy["most"] == 3
    finally:
        receiver.close()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "from 1 to 10,000"),
        (10_001, "from 1 to 10,000"),
        ("5.5", "whole number"),
        ("fast", "whole number"),
    ],
)
def test_a_bad_rate_limit_is_refused_everywhere(value, message, api, acme, acme_admin, client,
                                                 support):
    answer = api.post("/api/endpoints", {"url": "https://hooks.example.com/in",
                                         "event_types": ["camera.created"], "rate_limit": value},
                      format="json")
    assert answer.status_code == 400 and "rate_limit" in answer.json()["errors"]
    client.force_login(acme_admin)
    page = client.post(f"/domains/{acme.name}/endpoints/new", {
        "method": "POST", "url": "https://hooks.example.com/in", "event_types": ["camera.created"],
        "ordering": "none", "rate_limit": str(value),
    })
    assert page.status_code == 400 and message in page.content.decode()
    client.force_login(support)
    admin = client.post("/admin/callbacks/endpoint/add/", {
        "domain": acme.pk, "method": "POST", "url": "https://hooks.example.com/in",
        "event_types": ["camera.created"], "ordering": "none", "rate_limit": str(value),
        "description": "", "headers_json": "",
    })
    assert admin.status_code == 200 and message in admin.content.decode()
    assert not Endpoint.objects.exists()


def test_a_bad_ordering_is_refused_everywhere(api, acme, acme_admin, client):
    answer = api.post("/api/endpoints", {"url": "https://hooks.example.com/in",
                                         "event_types": ["camera.created"], "ordering": "fifo"},
                      format="json")
    assert answer.status_code == 400 and "ordering" in answer.json()["errors"]
    client.force_login(acme_admin)
    page = client.post(f"/domains/{acme.name}/endpoints/new", {
        "method": "POST", "url": "https://hooks.example.com/in", "event_types": ["camera.created"],
        "ordering": "fifo",
    })
    assert page.status_code == 400
    assert not Endpoint.objects.exists()


def test_ordering_and_rate_limit_round_trip_over_the_api(api):
    made = api.post("/api/endpoints", {"url": "https://hooks.example.com/in",
                                       "event_types": ["camera.created"], "ordering": "per_key",
                                       "rate_limit": 20}, format="json")
    assert made.status_code == 201, made.json()
    assert (made.json()["ordering"], made.json()["rate_limit"]) == ("per_key", 20)
    changed = api.patch(f"/api/endpoints/{made.json()['endpoint_id']}",
                        {"ordering": "none", "rate_limit": None}, format="json")
    assert (changed.json()["ordering"], changed.json()["rate_limit"]) == ("none", None)
    listed = api.get("/api/endpoints").json()["results"][0]
    assert (listed["ordering"], listed["rate_limit"]) == ("none", None)
