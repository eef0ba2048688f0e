"""Claiming: a delivery is claimed once, never more than the limit, whatever the plan."""

import pytest
from django.db import connection, transaction

from callbacks.delivery.claims import claim, claim_due
from callbacks.models import Delivery
from callbacks.publishing import publish_many
from tests.support.postgres import NESTED_LOOP


def published(acme, django_capture_on_commit_callbacks, count: int) -> list[str]:
    with django_capture_on_commit_callbacks(execute=False):
        for start in range(0, count, 1000):
            last = min(start + 1000, count)
            events = [("camera.created", {"n": i}, "") for i in range(start, last)]
            publish_many(domain=acme, events=events)
    return [str(i) for i in Delivery.objects.values_list("id", flat=True)]


@pytest.mark.django_db
def test_a_claim_takes_at_most_its_limit_and_each_delivery_once(
    endpoint_for, acme, django_capture_on_commit_callbacks
):
    endpoint = endpoint_for("https://hooks.acme.com/", ["camera.created"])
    ids = published(acme, django_capture_on_commit_callbacks, 30)
    assert set(Delivery.objects.values_list("endpoint_id", flat=True)) == {endpoint.pk}
    first = claim(ids, 10)
    assert len(first) == 10
    assert Delivery.objects.filter(state="sending").count() == 10
    again = claim(ids, 30)
    assert len(again) == 20
    assert not {j.delivery_id for j in again} & {j.delivery_id for j in first}
    assert claim(ids, 30) == []
    assert {j.claim_token for j in first} != {j.claim_token for j in again}


@pytest.mark.django_db
def test_a_claim_is_bounded_under_a_nested_loop_plan(
    endpoint_for, acme, django_capture_on_commit_callbacks, settings
):
    """Acceptance (P7, 5): 5,000 due ids, statistics analysed, the planner pushed to a
    nested loop (hash and merge joins off; with hash aggregation, sorts and materializing
    off too, the claim before P7 took all 5,000)."""
    settings.CALLBACK_ENDPOINT_INFLIGHT = 10_000  # the statement's LIMIT bounds, not the cap
    endpoint_for("https://hooks.acme.com/", ["camera.created"])
    ids = published(acme, django_capture_on_commit_callbacks, 5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE callbacks_delivery")
    with transaction.atomic(), connection.cursor() as cursor:
        for setting in NESTED_LOOP:
            cursor.execute(f"SET LOCAL {setting} = off")
        jobs = claim(ids, 100)
    assert len(jobs) == 100
    assert Delivery.objects.filter(state="sending").count() == 100


@pytest.mark.django_db
def test_a_delivery_deleted_while_in_flight_does_not_lose_the_batch(
    endpoint_for, acme, django_capture_on_commit_callbacks
):
    """Recording writes the others' attempts and states (retention or a purge may delete a
    delivery between its claim and its result)."""
    from django.utils import timezone

    from callbacks.delivery.policy import Result, build_request
    from callbacks.delivery.recording import record
    from callbacks.models import Attempt

    endpoint_for("https://hooks.acme.com/", ["camera.created"])
    ids = published(acme, django_capture_on_commit_callbacks, 3)
    jobs = claim(ids, 3)
    now = timezone.now()
    results = [Result(job=job, request=build_request(job, int(now.timestamp())), started_at=now,
                      finished_at=now, status=200) for job in jobs]
    Delivery.objects.filter(pk=jobs[0].delivery_id).delete()
    with django_capture_on_commit_callbacks(execute=False):
        record(results)
    assert Delivery.objects.filter(state="succeeded").count() == 2
    assert Attempt.objects.count() == 2


@pytest.mark.django_db
def test_an_endpoint_is_held_back_only_when_its_cap_ends_the_claim(
    endpoint_for, acme, django_capture_on_commit_callbacks, settings
):
    """A plan larger than the in-flight cap with less work due than the cap is not "held
    back" (the worker would rest the endpoint for nothing); one whose cap ends the claim
    is."""
    settings.CALLBACK_ENDPOINT_INFLIGHT = 5
    endpoint = endpoint_for("https://hooks.acme.com/", ["camera.created"])
    published(acme, django_capture_on_commit_callbacks, 3)
    jobs, held = claim_due({endpoint.pk: 250})
    assert len(jobs) == 3
    assert held == set()
    published(acme, django_capture_on_commit_callbacks, 10)
    jobs, held = claim_due({endpoint.pk: 250})
    assert len(jobs) == 2  # 3 still being sent: the cap of 5 leaves 2
    assert held == {endpoint.pk}
    assert claim_due({endpoint.pk: 250}) == ([], {endpoint.pk})
