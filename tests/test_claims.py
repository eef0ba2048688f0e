"""Claiming: a delivery is claimed once, within each endpoint's room."""

import pytest

from callbacks.delivery.claims import claim
from callbacks.models import Delivery
from callbacks.publish import publish_many


@pytest.mark.django_db
def test_claim_respects_room_and_gives_the_rest_back(
    endpoint_for, acme, django_capture_on_commit_callbacks
):
    endpoint = endpoint_for("https://hooks.acme.com/", ["camera.created"])
    with django_capture_on_commit_callbacks(execute=False):
        publish_many(domain=acme, events=[("camera.created", {"n": i}) for i in range(30)])
    ids = [str(i) for i in Delivery.objects.values_list("id", flat=True)]
    taken = claim(ids, 25, lambda endpoints: {e: 10 for e in endpoints})
    assert len(taken.jobs) == 10
    assert Delivery.objects.filter(state="sending").count() == 10
    assert sum(len(v) for v in taken.waiting.values()) + len(taken.more) == 20
    assert set(taken.waiting) <= {endpoint.pk}
    again = claim(ids, 30, lambda endpoints: {e: 50 for e in endpoints})
    assert len(again.jobs) == 20
    assert not set(j.delivery_id for j in again.jobs) & set(j.delivery_id for j in taken.jobs)
    assert claim(ids, 30, lambda endpoints: {e: 50 for e in endpoints}).jobs == []
