"""The incident list and a camera's counter history: acme.com's admins only."""

from __future__ import annotations

import pytest

from tests.support.portal import url

pytestmark = pytest.mark.django_db


def test_the_owner_can_see_the_incidents(owner_client, acme):
    assert owner_client.get(url("incidents:list", "acme.com")).status_code == 200


def test_a_co_admin_can_see_the_incidents(co_admin_client, acme):
    assert co_admin_client.get(url("incidents:list", "acme.com")).status_code == 200


def test_a_teammate_cannot_see_the_incidents(teammate_client, acme):
    assert teammate_client.get(url("incidents:list", "acme.com")).status_code == 404


def test_an_outsider_gets_404_for_the_incidents(outsider_client, acme):
    assert outsider_client.get(url("incidents:list", "acme.com")).status_code == 404


def test_support_staff_get_404_for_the_incidents(support_client, acme):
    assert support_client.get(url("incidents:list", "acme.com")).status_code == 404


def test_the_owner_can_see_a_cameras_counters(owner_client, camera):
    counters = url("incidents:camera", "acme.com", camera.camera_id)
    assert owner_client.get(counters).status_code == 200


def test_a_teammate_cannot_see_a_cameras_counters(teammate_client, camera):
    counters = url("incidents:camera", "acme.com", camera.camera_id)
    assert teammate_client.get(counters).status_code == 404


def test_an_outsider_gets_404_for_a_cameras_counters(outsider_client, camera):
    counters = url("incidents:camera", "acme.com", camera.camera_id)
    assert outsider_client.get(counters).status_code == 404


def test_an_outsider_gets_404_under_their_own_domains_name(outsider_client, camera):
    counters = url("incidents:camera", "beta.org", camera.camera_id)
    assert outsider_client.get(counters).status_code == 404


def test_support_staff_get_404_for_a_cameras_counters(support_client, camera):
    counters = url("incidents:camera", "acme.com", camera.camera_id)
    assert support_client.get(counters).status_code == 404
