"""Every portal route with a domain or an object in it: an admin of another domain gets
404 and changes nothing. The route list comes from the URL resolver, so a new route
cannot skip this test."""

from __future__ import annotations

import pytest

from tests.support.isolation import portal_routes, state


@pytest.mark.django_db
def test_every_domain_route_is_closed_to_other_domains(client, acme_objects, beta_admin, beta):
    routes = portal_routes()
    assert len(routes) >= 15
    client.force_login(beta_admin)
    before = state()
    for name, pattern in routes:
        params = {}
        for part in pattern.split("<")[1:]:
            key = part.split(">")[0].split(":")[-1]
            assert key in acme_objects, f"route {name} has <{key}>: add it to acme_objects"
            params[key] = acme_objects[key]
        path = "/" + pattern
        for key, value in params.items():
            path = path.replace(f"<str:{key}>", value)
        for method in ("get", "post"):
            answer = getattr(client, method)(
                path, {"email": "it@beta.org", "action": "rotate", "event_type": "camera.created"}
            )
            assert answer.status_code in (404, 405), (name, method, answer.status_code)
            # Same ids under the other domain's own name: still 404.
            # (Routes with only the domain in them are beta's own pages there.)
            other = path.replace("/domains/acme.com/", "/domains/beta.org/")
            if set(params) != {"name"}:
                answer = getattr(client, method)(other, {"action": "rotate"})
                assert answer.status_code in (404, 405), (name, method, "beta")
    assert state() == before


@pytest.mark.django_db
def test_the_token_page_shows_only_your_own_tokens(client, acme_objects, beta_admin):
    client.force_login(beta_admin)
    page = client.get("/account/tokens").content.decode()
    assert acme_objects["user_token_prefix"] not in page
    pacs_page = client.get("/integrations/pacs").content.decode()
    assert acme_objects["integration_id"] not in pacs_page
