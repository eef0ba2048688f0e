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
    # One hour holds the 47 (on hover and in the table); the rule's threshold is drawn.
    assert len(re.findall(r"<title>[^<]*UTC: 47</title>", text)) == 1
    assert len(re.findall(r"<td>47</td>", text)) == 1
    assert 'class="threshold"' in text and "rule: &gt; 15 within 15 minutes" in text


def test_other_domains_admins_get_404(client, beta_admin, camera, restart_storm):
    client.force_login(beta_admin)
    assert client.get(reverse("incidents:list", args=["acme.com"])).status_code == 404
    assert (
        client.get(reverse("incidents:camera", args=["beta.org", camera.camera_id])).status_code
        == 404
    )
