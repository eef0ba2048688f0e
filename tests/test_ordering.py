"""P8's ordered delivery, through real workers and a loopback receiver: a ``per_key``
endpoint gets one delivery per key at a time, in commit order, numbered 1, 2, 3, ...
per key in ``camio-order-sequence``; a key whose head is being retried holds back only
itself; cancelling the head lets the next go. An unordered endpoint of the same domain
gets everything too, with no order headers."""

from __future__ import annotations

import datetime
import json
import threading

import pytest
from django.db import connection
from django.utils import timezone

from callbacks import services as callback_services
from callbacks.delivery.claims import claim_due
from callbacks.models import Delivery, DeliveryState, Endpoint
from domains import services
from tests.receiver import Receiver, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def body(request) -> dict:
    return json.loads(request.body)


def keyed(receiver: Receiver, key: str) -> list:
    return [r for r in receiver.received if r.headers.get("camio-order-key") == key]


def sequences(requests) -> list[int]:
    return [int(r.headers["camio-order-sequence"]) for r in requests]


def type_and_name(request) -> tuple[str, str]:
    """("zone.deleted", "Z0"): the callback's type and the name of the object it is about."""
    payload = body(request)
    kind = payload["type"].split(".")[0]
    return payload["type"], payload["data"]["object"][kind]["name"]


def test_renames_arrive_in_commit_order_with_consecutive_sequences(
    two_delivery_workers, ordered_and_not, api, acme_admin, box, token_for, client_with
):
    ordered, unordered = ordered_and_not
    camera = services.camera_create(owner=acme_admin, device=box, name="Name 00")
    for n in range(1, 11):  # back to back, one API call each
        answer = api.patch(f"/api/cameras/{camera.camera_id}", {"name": f"Name {n:02}"},
                           format="json")
        assert answer.status_code == 200, answer.content
    clients = [client_with(token_for(acme_admin)) for _ in range(2)]

    def rename(client, prefix: str) -> None:
        for n in range(5):
            client.patch(f"/api/cameras/{camera.camera_id}", {"name": f"{prefix} {n}"},
                         format="json")
        connection.close()  # this thread's own connection

    threads = [threading.Thread(target=rename, args=(client, prefix))
               for client, prefix in zip(clients, "AB", strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    key = f"box:{box.device_id}"
    wait_for(lambda: len(keyed(ordered, key)) == 21, timeout=60, what="21 ordered callbacks")
    wait_for(lambda: len(unordered.received) == 21, timeout=60, what="21 unordered callbacks")
    arrived = keyed(ordered, key)
    assert sequences(arrived) == list(range(1, 22))
    assert [body(r)["type"] for r in arrived] == ["camera.created"] + ["camera.updated"] * 20
    # Commit order: each rename's previous name is the name the one before it left.
    names = [body(r)["data"]["object"]["camera"]["name"] for r in arrived]
    previous = [body(r)["data"]["object"]["previous_attributes"]["name"] for r in arrived[1:]]
    assert previous == names[:-1]
    assert names[:11] == [f"Name {n:02}" for n in range(11)]
    assert not any("camio-order-key" in r.headers for r in unordered.received)


def test_a_box_deletion_sends_its_children_first_in_sequence(
    two_delivery_workers, ordered_and_not, api, acme_admin, box
):
    ordered, unordered = ordered_and_not
    cameras = [services.camera_create(owner=acme_admin, device=box, name=f"C{n}")
               for n in range(2)]
    for n, camera in enumerate([cameras[0], cameras[0], cameras[1]]):
        services.zone_create(camera=camera, name=f"Z{n}", polygons=[[[0, 0], [1, 0], [1, 1]]])
    key = f"box:{box.device_id}"
    wait_for(lambda: len(keyed(ordered, key)) == 5, what="the creations")
    assert api.delete(f"/api/devices/{box.device_id}").status_code == 204
    wait_for(lambda: len(keyed(ordered, key)) == 11, timeout=60, what="the deletions")
    wait_for(lambda: len(unordered.received) == 11, timeout=60, what="the unordered copies")
    deletions = keyed(ordered, key)[5:]
    # Each camera's zones, then the camera (both by name), then the Box: the README's
    # promise for per_key endpoints, in consecutive numbers after the five creations.
    assert [type_and_name(r) for r in deletions] == [
        ("zone.deleted", "Z0"), ("zone.deleted", "Z1"), ("camera.deleted", "C0"),
        ("zone.deleted", "Z2"), ("camera.deleted", "C1"), ("device.deleted", box.name),
    ]
    assert sequences(deletions) == list(range(6, 12))
    assert sequences(keyed(ordered, key)) == list(range(1, 12))


def test_a_retried_delivery_holds_back_its_own_key_only(
    fast_retries, worker, receiver, endpoint_for, acme_admin, acme
):
    box_a = services.device_create(owner=acme_admin, name="Box A")
    box_b = services.device_create(owner=acme_admin, name="Box B")
    refuse = {box_a.device_id}

    def answer(index, request):
        camera = body(request)["data"]["object"]["camera"]
        return (422, {}, b"no") if camera["device_id"] in refuse else (200, {}, b"ok")

    receiver.answer = answer
    endpoint_for(receiver.url, ["camera.created"], ordering="per_key")
    for n in range(3):
        services.camera_create(owner=acme_admin, device=box_a, name=f"A{n}")
        services.camera_create(owner=acme_admin, device=box_b, name=f"B{n}")
    key_a, key_b = f"box:{box_a.device_id}", f"box:{box_b.device_id}"
    wait_for(lambda: len(keyed(receiver, key_b)) == 3, what="Box B's callbacks")
    wait_for(lambda: len(keyed(receiver, key_a)) >= 3, what="A's head retried")
    # A 4xx does not open the circuit: only A's head is tried, again and again.
    assert set(sequences(keyed(receiver, key_a))) == {1}
    assert Endpoint.objects.get().circuit_opened_at is None
    refuse.clear()
    wait_for(lambda: {2, 3} <= set(sequences(keyed(receiver, key_a))), what="A's rest")
    accepted = [r for r in keyed(receiver, key_a) if sequences([r]) != [1]]
    assert sequences(accepted) == [2, 3]
    assert [body(r)["data"]["object"]["camera"]["name"] for r in accepted] == ["A1", "A2"]


def test_cancelling_the_head_lets_the_next_of_its_key_go(
    fast_retries, worker, receiver, endpoint_for, acme_admin, box
):
    receiver.answer = lambda index, request: (
        (422, {}, b"poison") if body(request)["data"]["object"]["camera"]["name"] == "Poison"
        else (200, {}, b"ok")
    )
    endpoint_for(receiver.url, ["camera.created"], ordering="per_key")
    services.camera_create(owner=acme_admin, device=box, name="Poison")
    services.camera_create(owner=acme_admin, device=box, name="Next")
    wait_for(lambda: len(receiver.received) >= 2, what="the poison retried")
    assert {sequences([r])[0] for r in receiver.received} == {1}
    head = Delivery.objects.get(sequence=1)
    callback_services.delivery_cancel(delivery=wait_for(
        lambda: Delivery.objects.filter(pk=head.pk, state=DeliveryState.PENDING).first(),
        what="the head between attempts"), actor=None)
    wait_for(lambda: Delivery.objects.get(sequence=2).state == DeliveryState.SUCCEEDED,
             what="the next one")
    assert 2 in sequences(receiver.received)
    assert Delivery.objects.get(pk=head.pk).state == DeliveryState.CANCELLED


def test_switching_to_per_key_numbers_pending_deliveries_by_commit(
    acme, acme_admin, box, endpoint_for, django_capture_on_commit_callbacks
):
    endpoint = endpoint_for("https://hooks.example.com/in", ["camera.created"])
    with django_capture_on_commit_callbacks(execute=False):
        for n in range(3):
            services.camera_create(owner=acme_admin, device=box, name=f"C{n}")
    assert not Delivery.objects.exclude(sequence=None).exists()
    with django_capture_on_commit_callbacks(execute=False):
        callback_services.endpoint_update(endpoint=endpoint, actor=None,
                                          changes={"ordering": "per_key"})
    numbered = Delivery.objects.order_by("sequence").values_list("order_key", "sequence")
    assert list(numbered) == [(f"box:{box.device_id}", n) for n in (1, 2, 3)]
    # A camera created now takes the next number; a resend of the first takes the one after.
    with django_capture_on_commit_callbacks(execute=False):
        services.camera_create(owner=acme_admin, device=box, name="C3")
    assert Delivery.objects.order_by("-sequence").first().sequence == 4
    first = Delivery.objects.get(sequence=1)
    Delivery.objects.filter(pk=first.pk).update(state=DeliveryState.SUCCEEDED)
    first.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=False):
        again = callback_services.delivery_resend(delivery=first, actor=None)
    assert (again.order_key, again.sequence) == (f"box:{box.device_id}", 5)
    # Switching back releases them: no key, no number, nothing waits for another.
    with django_capture_on_commit_callbacks(execute=False):
        callback_services.endpoint_update(endpoint=endpoint, actor=None,
                                          changes={"ordering": "none"})
    assert not Delivery.objects.filter(state="pending").exclude(order_key=None).exists()


def test_test_events_carry_no_order_and_bypass_it(
    fast_retries, worker, receiver, endpoint_for, acme_admin, box
):
    receiver.answer = lambda index, request: (
        (200, {}, b"ok") if "camio-test" in request.headers or index > 0 else (422, {}, b"no")
    )
    endpoint = endpoint_for(receiver.url, ["camera.created"], ordering="per_key")
    services.camera_create(owner=acme_admin, device=box, name="Held")
    wait_for(lambda: receiver.received, what="the ordered one")
    test = callback_services.send_test_event(endpoint=endpoint, event_type="camera.created",
                                             actor=None)
    wait_for(lambda: Delivery.objects.get(pk=test.pk).state == "succeeded", what="the test")
    sent = [r for r in receiver.received if r.headers["webhook-id"] == str(test.event_id)]
    assert sent and "camio-order-key" not in sent[0].headers
    # P10: a test event says so in camio-test; a real one carries no such header.
    assert sent[0].headers["camio-test"] == "true"
    real = [r for r in receiver.received if r.headers["webhook-id"] != str(test.event_id)]
    assert real and not any("camio-test" in r.headers for r in real)


def test_a_claim_takes_only_the_first_pending_delivery_of_each_key(
    fast_retries, acme, acme_admin, box, endpoint_for, django_capture_on_commit_callbacks
):
    endpoint = endpoint_for("https://hooks.example.com/in", ["camera.created"],
                            ordering="per_key")
    other = services.device_create(owner=acme_admin, name="Other Box")
    with django_capture_on_commit_callbacks(execute=False):
        for n in range(3):
            services.camera_create(owner=acme_admin, device=box, name=f"C{n}")
            services.camera_create(owner=acme_admin, device=other, name=f"D{n}")
    Delivery.objects.update(next_attempt_at=timezone.now() - datetime.timedelta(seconds=5))
    first, _ = claim_due({endpoint.pk: 10})
    assert sorted((j.order_key, j.sequence) for j in first) == sorted(
        [(f"box:{box.device_id}", 1), (f"box:{other.device_id}", 1)])
    assert claim_due({endpoint.pk: 10}) == ([], set())  # the next of each waits for its head
