"""Counting and starting a replay, and following its progress: acme.com's admins only."""

from __future__ import annotations

import pytest

from callbacks.models import ReplayJob
from tests.support.portal import url

pytestmark = pytest.mark.django_db

WINDOW = {"start": "2020-01-01T00:00", "end": "2020-01-02T00:00", "confirm": "1"}


def test_the_owner_can_start_a_replay(owner_client, endpoint):
    replay = url("domains:endpoint_replay", "acme.com", endpoint.endpoint_id)
    assert owner_client.get(replay).status_code == 200
    assert owner_client.post(replay, WINDOW).status_code == 302
    assert ReplayJob.objects.count() == 1


def test_a_co_admin_can_start_a_replay(co_admin_client, endpoint):
    replay = url("domains:endpoint_replay", "acme.com", endpoint.endpoint_id)
    assert co_admin_client.post(replay, WINDOW).status_code == 302
    assert ReplayJob.objects.count() == 1


def test_a_teammate_cannot_start_a_replay(teammate_client, endpoint):
    replay = url("domains:endpoint_replay", "acme.com", endpoint.endpoint_id)
    assert teammate_client.get(replay).status_code == 404
    assert teammate_client.post(replay, WINDOW).status_code == 404
    assert not ReplayJob.objects.exists()


def test_an_outsider_gets_404_starting_a_replay(outsider_client, endpoint):
    replay = url("domains:endpoint_replay", "acme.com", endpoint.endpoint_id)
    assert outsider_client.get(replay).status_code == 404
    assert outsider_client.post(replay, WINDOW).status_code == 404
    assert not ReplayJob.objects.exists()


def test_an_outsider_gets_404_under_their_own_domains_name(outsider_client, endpoint):
    replay = url("domains:endpoint_replay", "beta.org", endpoint.endpoint_id)
    assert outsider_client.post(replay, WINDOW).status_code == 404
    assert not ReplayJob.objects.exists()


def test_support_staff_get_404_starting_a_replay(support_client, endpoint):
    replay = url("domains:endpoint_replay", "acme.com", endpoint.endpoint_id)
    assert support_client.get(replay).status_code == 404
    assert support_client.post(replay, WINDOW).status_code == 404
    assert not ReplayJob.objects.exists()


def test_the_owner_can_follow_a_replay(owner_client, replay_job):
    progress = url("domains:replay", "acme.com", replay_job.job_id)
    assert owner_client.get(progress).status_code == 200
    assert owner_client.get(progress, {"format": "json"}).json()["state"] == replay_job.state


def test_a_teammate_cannot_follow_a_replay(teammate_client, replay_job):
    progress = url("domains:replay", "acme.com", replay_job.job_id)
    assert teammate_client.get(progress).status_code == 404
    assert teammate_client.get(progress, {"format": "json"}).status_code == 404


def test_an_outsider_gets_404_following_a_replay(outsider_client, replay_job):
    progress = url("domains:replay", "acme.com", replay_job.job_id)
    assert outsider_client.get(progress).status_code == 404
    assert outsider_client.get(progress, {"format": "json"}).status_code == 404


def test_support_staff_get_404_following_a_replay(support_client, replay_job):
    progress = url("domains:replay", "acme.com", replay_job.job_id)
    assert support_client.get(progress).status_code == 404
    assert support_client.get(progress, {"format": "json"}).status_code == 404
