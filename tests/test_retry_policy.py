"""P16 (3): a retry policy per endpoint. An endpoint's own schedule and attempt timeout
apply to its deliveries while the others keep the deployment's; an override beyond the
deployment's bounds is refused everywhere, naming the bound, and nothing is saved."""

from __future__ import annotations

import time

import pytest
from django.core.exceptions import ValidationError

from callbacks.models import Attempt, Delivery, Endpoint
from callbacks.validation import clean_attempt_timeout, clean_retry_schedule
from domains import services
from tests.receiver import Receiver, wait_for


def failing(index, request):
    return 500, {}, b"down"


def test_a_schedule_is_read_from_a_list_or_text():
    assert clean_retry_schedule("0, 1, 2.5") == [0, 1, 2.5]
    assert clean_retry_schedule([0, 60, 600]) == [0, 60, 600]
    assert clean_retry_schedule("[0, 60]") == [0, 60]  # as the admin shows a JSON list
    assert clean_retry_schedule("") is None and clean_retry_schedule(None) is None
    assert clean_retry_schedule([]) is None
    assert clean_attempt_timeout("2.5") == 2.5 and clean_attempt_timeout("") is None


@pytest.mark.parametrize(("value", "said"), [
    ("0, -5", "may be negative"),
    ("0, soon", "must be a number of seconds, not 'soon'"),
    ([0] * 21, "at most 20 attempts, not 21"),
    ([0, 86400, 86400, 86400, 86400, 1], "this deployment allows at most 345,600 s "
                                         "(CALLBACK_RETRY_MAX_AGE)"),
    ([0, float("nan")], "must be a number of seconds"),
    ({"a": 1}, "must be a list of seconds"),
])
def test_a_bad_schedule_is_refused_naming_the_problem(value, said):
    with pytest.raises(ValidationError) as refused:
        clean_retry_schedule(value)
    assert said in refused.value.messages[0]


@pytest.mark.parametrize("value", ["0.5", 61, "never", True])
def test_a_timeout_outside_the_bounds_is_refused(value):
    with pytest.raises(ValidationError):
        clean_attempt_timeout(value)


@pytest.mark.django_db
def test_the_api_takes_a_policy_and_refuses_one_beyond_the_maximum_age(api):
    made = api.post("/api/endpoints", {"url": "https://hooks.acme.com/in",
                                       "event_types": ["camera.created"],
                                       "retry_schedule": [0, 1, 2], "attempt_timeout": 5},
                    format="json")
    assert made.status_code == 201, made.json()
    assert (made.json()["retry_schedule"], made.json()["attempt_timeout"]) == ([0, 1, 2], 5)
    too_long = api.patch(f"/api/endpoints/{made.json()['endpoint_id']}",
                         {"retry_schedule": [0, 200000, 200000]}, format="json")
    assert too_long.status_code == 422
    assert "CALLBACK_RETRY_MAX_AGE" in too_long.json()["errors"]["retry_schedule"][0]
    beyond_schema = api.patch(f"/api/endpoints/{made.json()['endpoint_id']}",
                              {"attempt_timeout": 600}, format="json")
    assert beyond_schema.status_code == 400
    endpoint = Endpoint.objects.get()
    assert (endpoint.retry_schedule, endpoint.attempt_timeout) == ([0, 1, 2], 5)
    back = api.patch(f"/api/endpoints/{endpoint.endpoint_id}",
                     {"retry_schedule": None, "attempt_timeout": None}, format="json")
    assert back.status_code == 200 and back.json()["retry_schedule"] is None


@pytest.mark.django_db
def test_the_form_refuses_a_schedule_beyond_the_maximum_age_and_saves_nothing(
    acme_admin_client, acme
):
    answer = acme_admin_client.post(f"/domains/{acme.name}/endpoints/new", {
        "method": "POST", "url": "https://hooks.acme.com/in", "event_types": ["camera.created"],
        "ordering": "none", "retry_schedule": "0, 300000, 300000"})
    assert answer.status_code == 400
    assert "this deployment allows at most 345,600 s" in answer.content.decode()
    assert not Endpoint.objects.exists()
    saved = acme_admin_client.post(f"/domains/{acme.name}/endpoints/new", {
        "method": "POST", "url": "https://hooks.acme.com/in", "event_types": ["camera.created"],
        "ordering": "none", "retry_schedule": "0, 60, 600", "attempt_timeout": "5"})
    assert saved.status_code == 302
    endpoint = Endpoint.objects.get()
    assert (endpoint.retry_schedule, endpoint.attempt_timeout) == ([0, 60, 600], 5.0)
    page = acme_admin_client.get(f"/domains/{acme.name}/endpoints/{endpoint.endpoint_id}/edit")
    assert "3 attempts, after 0 s, 60 s, 600 s (this endpoint&#x27;s" in page.content.decode()
    assert 'value="0, 60, 600"' in page.content.decode()


@pytest.mark.django_db(transaction=True)
def test_an_endpoints_own_schedule_ends_its_delivery_while_another_keeps_the_deployments(
    settings, worker, endpoint_for, box, acme_admin
):
    settings.CALLBACK_RETRY_SCHEDULE = [0, 0.2, 0.2, 0.2, 0.2]  # the deployment's: 5
    own, shared = Receiver(answer=failing), Receiver(answer=failing)
    try:
        endpoint_for(own.url, ["camera.created"], retry_schedule=[0, 0.2, 0.2])
        endpoint_for(shared.url, ["camera.created"])
        services.camera_create(owner=acme_admin, device=box, name="Flaky")
        wait_for(lambda: Delivery.objects.filter(state="failed").count() == 2, timeout=30,
                 what="both deliveries to fail")
    finally:
        own.close()
        shared.close()
    assert (len(own.received), len(shared.received)) == (3, 5)
    attempts = {d.endpoint.url: d.attempts.count() for d in Delivery.objects.all()}
    assert attempts == {own.url: 3, shared.url: 5}


@pytest.mark.django_db(transaction=True)
def test_an_endpoints_own_timeout_ends_its_attempts(settings, worker, endpoint_for, box,
                                                    acme_admin):
    settings.CALLBACK_RETRY_SCHEDULE = [0]

    def slow(index, request):
        time.sleep(2.5)
        return 200, {}, b"late"

    receiver = Receiver(answer=slow)
    try:
        endpoint_for(receiver.url, ["camera.created"], attempt_timeout=1)
        services.camera_create(owner=acme_admin, device=box, name="Slow")
        attempt = wait_for(lambda: Attempt.objects.first(), timeout=30, what="the attempt")
    finally:
        receiver.close()
    assert attempt.error == "Timed out after 1 s"
    assert attempt.duration_ms < 2000
