"""The domain admin sees incidents and a camera's counter history; others get 404."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from incidents.models import CounterMinute

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("counter_rules")]


def test_the_incident_list_shows_descriptions_and_filters(
    client, acme_admin, camera, restart_storm
):
    client.force_login(acme_admin)
    page = client.get(reverse("incidents:list", args=["acme.com"])).content.decode()
    assert "47 &gt; 15 means the network connection" in page
    assert "Front Entrance" in page
    filtered = client.get(
        reverse("incidents:list", args=["acme.com"]), {"counter": "stream_changed_offline_count"}
    ).content.decode()
    assert "No incidents." in filtered
    domain_page = client.get(reverse("domains:domain", args=["acme.com"])).content.decode()
    assert reverse("incidents:list", args=["acme.com"]) in domain_page


def test_a_cameras_counter_history_is_charted(client, acme_admin, camera, restart_storm):
    assert (
        CounterMinute.objects.filter(counter="segmentation_process_restart_count").get().total == 47
    )
    client.force_login(acme_admin)
    page = client.get(reverse("incidents:camera", args=["acme.com", camera.camera_id]))
    text = page.content.decode()
    assert page.status_code == 200
    assert "segmentation_process_restart_count" in text and "total 47" in text
    # One hour holds the 47 (on hover and in the table), drawn as the rule reads it: the
    # largest sum within its 15-minute window; the rule's threshold is drawn across.
    assert len(re.findall(r"<title>[^<]*UTC: largest 15-minute sum 47</title>", text)) == 1
    assert len(re.findall(r'<td class="num">47</td><td class="num">47</td>', text)) == 1
    assert 'class="threshold"' in text and "rule: &gt; 15 within 15 minutes" in text


def test_other_domains_admins_get_404(client, beta_admin, camera, restart_storm):
    client.force_login(beta_admin)
    assert client.get(reverse("incidents:list", args=["acme.com"])).status_code == 404
    assert (
        client.get(reverse("incidents:camera", args=["beta.org", camera.camera_id])).status_code
        == 404
    )


def test_a_windowed_rule_is_charted_as_it_reads_the_counter():
    """60 restarts spread evenly over an hour sum to 60 but never pass "> 15 within 15
    minutes": the bar is the largest 15-minute sum (15), not the hour's 60; a burst of 20
    in five minutes is 20."""
    import datetime

    from incidents.selectors import _window_peaks

    hour = datetime.datetime(2026, 12, 7, 10, tzinfo=datetime.UTC)
    minute = datetime.timedelta(minutes=1)
    even = {hour + minute * m: 1 for m in range(60)}
    burst = {hour + datetime.timedelta(hours=1) + minute * m: 4 for m in range(30, 35)}
    peaks = _window_peaks({**even, **burst}, [hour, hour + datetime.timedelta(hours=1)], 15)
    assert peaks == [15, 20]
