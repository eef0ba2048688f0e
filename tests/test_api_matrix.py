"""The /api/ permission matrix (DESIGN.md sections 9 and 10).

Every route: 401 without a valid token, 403 with the wrong kind of token, 404 for
another domain's ids (and nothing changes). The route list comes from the URL
resolver, so a new route cannot skip the matrix: each of its path kwargs must map
to one of domain B's objects (KWARG_OBJECTS), and it must be classified (access()).
The OpenAPI schema documents exactly these routes.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from rest_framework.settings import api_settings
from rest_framework.test import APIClient

from domains import services
from domains.models import ApiToken, AuditEntry, Device, User
from pacs import services as pacs_services
from tests.support.routes import (
    BODIES,
    BOX_TEMPLATES,
    DOMAIN_FREE,
    HTTP_METHODS,
    PREPARE,
    PUBLIC,
    ROUTES,
    TEMPLATES,
    Route,
    access,
    api_patterns,
    assert_error,
    body_for,
    by_id,
    call,
    collection_by_id,
    detail_by_id,
    names_any,
    nowhere,
    object_key,
    prepare,
    route_methods,
    snapshot,
)

# --- The routes, from the resolver ------------------------------------------------

# --- Bodies: valid for the domain whose ids fill them, so a leak would really write --

# --- Two populated domains --------------------------------------------------------

# --- The route list itself ----------------------------------------------------------


def test_the_matrix_covers_every_api_route():
    found = api_patterns()
    templates = {t for t, _ in found}
    assert templates >= PUBLIC, "the public schema/docs routes moved: update PUBLIC"
    for template, pattern in found:
        assert not re.search(r"[\^$()\[\]*+?\\|]", template), f"cannot read /{template}"
        if template not in PUBLIC:
            assert route_methods(pattern.callback), f"/{template}: no HTTP methods found"
    assert len({r.template for r in ROUTES}) >= 20
    assert len(ROUTES) >= 35
    for route in ROUTES:
        access(route)  # every route is classified
        for kwarg in route.kwargs:
            object_key(route, kwarg)  # every kwarg has a domain-B object
    for name, method in [*BODIES, *PREPARE]:
        assert any((r.name, r.method) == (name, method) for r in ROUTES), (name, method)


@pytest.mark.django_db
def test_the_schema_documents_exactly_the_resolvers_routes(client):
    answer = client.get("/api/schema/?format=json")
    assert answer.status_code == 200
    schema = json.loads(answer.content)
    documented = {
        (path, method)
        for path, operations in schema["paths"].items()
        for method in operations
        if method in HTTP_METHODS and path.startswith("/api/")
    }
    # The PACS gateway's routes are documented too (their tokens: tests/test_pacs_ingest.py).
    assert {"/pacs/devices", "/pacs/webhooks"} <= set(schema["paths"])

    def schema_path(route: Route) -> str:
        path = "/" + route.template
        if api_settings.SCHEMA_COERCE_PATH_PK:  # drf-spectacular follows DRF: {pk} → {id}
            path = path.replace("{pk}", "{id}")
        return path

    routed = {(schema_path(r), r.method) for r in ROUTES}
    assert documented - routed == set(), "documented but not routed"
    assert routed - documented == set(), "routed but not documented"
    assert client.get("/api/docs/").status_code == 200  # public too


# --- 401: no valid token --------------------------------------------------------------


@pytest.mark.django_db
@by_id
def test_every_route_answers_401_without_a_valid_token(
    route, world_b, beta, acme_admin, token_for, client_with
):
    revoked = token_for(acme_admin)
    services.token_revoke(token=ApiToken.objects.get(user=acme_admin), actor=None)
    before = snapshot(beta)
    for label, client in [
        ("no header", client_with(None)),
        ("unknown token", client_with("cpu_" + "x" * 40)),
        ("unknown Bearer token", client_with("cpu_" + "x" * 40, scheme="Bearer")),
        ("revoked token", client_with(revoked)),
    ]:
        answer = call(client, route, world_b)
        assert answer.status_code == 401, (route.id, label, answer.status_code)
        assert_error(answer, 401, route)
        assert answer.has_header("WWW-Authenticate"), (route.id, label)
        assert answer["WWW-Authenticate"].startswith("Bearer"), (route.id, label)
    assert snapshot(beta) == before


# --- 403: the wrong kind of token --------------------------------------------------


@pytest.mark.django_db
@by_id
def test_every_route_answers_403_to_a_box_or_pacs_token(
    route, world_a, world_b, box, acme, beta, acme_admin, token_for, client_with
):
    tokens = {
        "Box token": token_for(kind="box", device=box),
        "PACS token": token_for(acme_admin, kind="pacs", subject="pacs-integration"),
    }
    before = snapshot(acme), snapshot(beta)
    for label, token in tokens.items():
        client = client_with(token, scheme="Bearer")
        for ids in (world_a, world_b):  # its own domain's objects or another's
            answer = call(client, route, ids)
            if access(route) == "box" and label == "Box token":
                if ids is world_a:
                    assert answer.status_code == 202, (route.id, answer.content[:300])
                    continue  # its own Box's counters: the one route a Box token opens
                assert_error(answer, 404, route)  # another Box: as if it did not exist
                continue
            assert answer.status_code == 403, (route.id, label, ids["name"], answer.status_code)
            assert_error(answer, 403, route)
    assert snapshot(beta) == before[1]
    if access(route) != "box":
        assert snapshot(acme) == before[0]


# --- 404: another domain's ids --------------------------------------------------------


@pytest.mark.django_db
@detail_by_id
def test_another_domains_ids_answer_404_and_change_nothing(route, api, world_a, world_b, beta):
    if access(route) == "box":  # a user token is the wrong kind there, whatever the ids
        before = snapshot(beta)
        assert_error(call(api, route, world_b), 403, route)
        assert snapshot(beta) == before
        return
    prepare(route, world_b)
    before = snapshot(beta)
    audit = AuditEntry.objects.count()
    answer = call(api, route, world_b)
    assert_error(answer, 404, route)
    # Exactly the answer for an id that exists nowhere: no telling B's ids exist.
    missing = call(api, route, nowhere(), body_ids=world_b)
    assert (missing.status_code, missing.json()) == (404, answer.json()), route.id
    assert snapshot(beta) == before, f"{route.id} changed beta.org's data"
    assert AuditEntry.objects.count() == audit, f"{route.id} wrote an audit entry"


@pytest.mark.django_db
@collection_by_id
def test_collection_routes_never_show_or_touch_another_domains_objects(
    route, api, world_a, world_b, beta
):
    """Lists show only the caller's domain; creates naming B's objects answer 422."""
    before = snapshot(beta)
    body = body_for(route, world_b)
    answer = call(api, route, world_b)
    text = answer.content.decode()
    assert answer.status_code < 500, (route.id, text[:300])
    if 200 <= answer.status_code < 300:
        assert not names_any(text, world_b), (
            f"{route.id} shows beta.org's {names_any(text, world_b)}"
        )
    if names_any(json.dumps(body), world_b):
        assert_error(answer, 422, route)
    if route.method == "get" and route.template not in DOMAIN_FREE:
        # Not empty for want of data: acme's own objects are listed.
        assert answer.status_code == 200, route.id
        assert names_any(text, world_a), f"{route.id} lists none of acme's objects"
    assert snapshot(beta) == before, f"{route.id} changed beta.org's data"


@pytest.mark.django_db
def test_delivery_filter_by_another_domains_endpoint_finds_nothing(api, world_a, world_b):
    answer = api.get("/api/deliveries", {"endpoint": world_b["endpoint_id"]})
    assert answer.status_code == 200
    assert answer.json()["results"] == []
    own = api.get("/api/deliveries", {"endpoint": world_a["endpoint_id"]})
    assert own.json()["results"], "acme's own endpoint has deliveries"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/devices/{device_id}", {"owner": "{admin_email}"}),
        ("/api/cameras/{camera_id}", {"device_id": "{device_id}"}),
        ("/api/cameras/{camera_id}", {"owner": "{admin_email}"}),
        (
            "/api/pacs/integrations/{integration_id}/devices/{pacs_device_id}",
            {"camera_ids": ["{camera_id}"]},
        ),
    ],
    ids=["device owner", "camera's Box", "camera owner", "PACS door's cameras"],
)
def test_own_objects_cannot_be_pointed_at_another_domains(
    path, body, api, world_a, world_b, acme, beta
):
    """PATCHing acme's own object to name beta.org's Box or user: 422, nothing changes."""
    before = snapshot(acme), snapshot(beta)

    def fill(value: Any) -> Any:
        if isinstance(value, list):
            return [fill(item) for item in value]
        return value.format(**world_b)

    filled = {key: fill(value) for key, value in body.items()}
    answer = api.patch(path.format(**world_a), filled, format="json")
    route = Route(path.strip("/"), "", "patch")
    assert_error(answer, 422, route)
    assert (snapshot(acme), snapshot(beta)) == before


@pytest.mark.django_db
@pytest.mark.parametrize("template", TEMPLATES, ids=[f"/{t}" for t in TEMPLATES])
def test_other_methods_answer_405_in_the_error_format(
    template, api, world_b, beta, token_for, client_with
):
    allowed = {r.method for r in ROUTES if r.template == template}
    if template in BOX_TEMPLATES:  # DRF checks credentials before the method
        box = Device.objects.get(device_id=world_b["device_id"])
        api = client_with(token_for(kind="box", device=box), scheme="Bearer")
    before = snapshot(beta)
    for method in sorted({"get", "post", "put", "patch", "delete"} - allowed):
        route = Route(template, "", method)
        assert_error(call(api, route, world_b), 405, route)
    assert snapshot(beta) == before


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/nothing-here", "/api/endpoints/", "/api/users/me/"])
def test_unknown_api_paths_answer_404_in_the_error_format(path, api):
    answer = api.get(path)
    assert_error(answer, 404, Route(path.strip("/"), "", "get"))


@pytest.mark.django_db
@by_id
def test_sanity_beta_admin_reaches_every_route_with_the_same_ids_and_bodies(
    route, world_b, beta, beta_admin, token_for, client_with
):
    """The 404s above are not typos: B's own admin gets 2xx with the same ids and bodies
    (Bearer scheme), GETs show B's objects and writes change B's data."""
    client = client_with(token_for(beta_admin), scheme="Bearer")
    if access(route) == "box":
        box = Device.objects.get(device_id=world_b["device_id"])
        client = client_with(token_for(kind="box", device=box), scheme="Bearer")
    prepare(route, world_b)
    before = snapshot(beta)
    answer = call(client, route, world_b)
    text = answer.content.decode()
    assert 200 <= answer.status_code < 300, (route.id, answer.status_code, text[:300])
    if route.method == "get" and route.template not in DOMAIN_FREE:
        assert names_any(text, world_b), route.id
    if route.method != "get":
        assert snapshot(beta) != before, f"{route.id} changed nothing: a leak would go unseen"


# --- Roles: a non-admin user, a user outside any registered domain --------------------


@pytest.mark.django_db
@by_id
def test_a_non_admin_user_token(
    route, world_a, world_b, acme, beta, acme_teammate, token_for, client_with
):
    """acme's teammate: 403 on admin routes (even acme's own ids), their own hooks and
    PACS integrations only."""
    client = client_with(token_for(acme_teammate))
    before = snapshot(acme), snapshot(beta)
    role = access(route)
    if role in ("admin", "box"):
        for ids in (world_a, world_b):
            assert_error(call(client, route, ids), 403, route)
        assert (snapshot(acme), snapshot(beta)) == before
    elif route.kwargs:
        # Someone else's hook or integration: acme's admin's, or beta.org's.
        for ids in (world_a, world_b):
            assert_error(call(client, route, ids), 404, route)
        assert (snapshot(acme), snapshot(beta)) == before
    else:
        answer = call(client, route, world_a)
        expected = 201 if route.method == "post" else 200
        assert answer.status_code == expected, (route.id, answer.status_code, answer.content)
        text = answer.content.decode()
        assert not names_any(text, world_b), route.id
        if route.method == "get":
            others = {
                k: world_a[k] for k in ("hook_id", "endpoint_id", "device_id", "integration_id")
            }
            assert not names_any(text, others), f"{route.id} shows acme admin's objects"
        assert snapshot(beta) == before[1]


@pytest.mark.django_db
def test_a_teammate_reaches_their_own_hook(acme_teammate, token_for, client_with, world_a):
    hook = services.hook_create(
        owner=acme_teammate,
        callback_url="https://hooks.example.com/mine",
        type="query_match",
        parsed_query="labels in ['person']",
    )
    client = client_with(token_for(acme_teammate))
    assert client.get(f"/api/users/me/hooks/{hook.hook_id}").status_code == 200
    listed = client.get("/api/users/me/hooks").json()["results"]
    assert [row["hook_id"] for row in listed] == [hook.hook_id]
    assert client.delete(f"/api/users/me/hooks/{hook.hook_id}").status_code == 204


@pytest.mark.django_db
def test_a_teammate_reaches_their_own_integration_and_their_admin_does_too(
    acme_teammate, token_for, client_with, api, world_a, world_b
):
    """A teammate's PACS integration: theirs to manage; acme's admins see it as well
    (and beta.org's admin does not)."""
    integration = pacs_services.integration_create(
        owner=acme_teammate, vendor="brivo", name="Annex Brivo"
    )
    own = f"/api/pacs/integrations/{integration.integration_id}"
    client = client_with(token_for(acme_teammate))
    assert client.get(own).status_code == 200
    listed = client.get("/api/pacs/integrations").json()["results"]
    assert [row["integration_id"] for row in listed] == [integration.integration_id]
    assert client.post(f"{own}/tokens/new").status_code == 201
    seen = {row["integration_id"] for row in api.get("/api/pacs/integrations").json()["results"]}
    assert seen == {integration.integration_id, world_a["integration_id"]}
    assert api.get(own).json()["owner"]["email"] == acme_teammate.email
    beta = client_with(token_for(User.objects.get(email=world_b["admin_email"])))
    assert_error(beta.get(own), 404, Route(own.strip("/"), "", "get"))
    assert client.delete(own).status_code == 204


@pytest.mark.django_db
@by_id
def test_a_user_outside_any_registered_domain(route, world_b, beta, token_for):
    """No token for them (token_issue refuses); signed in by session, 403 on hooks and
    admin routes."""
    outsider = services.user_create(email="someone@gmail.com", password="correct horse battery")
    assert outsider.domain is None
    with pytest.raises(ValidationError):
        token_for(outsider)
    client = APIClient()
    client.force_login(outsider)
    before = snapshot(beta)
    answer = call(client, route, world_b)
    if access(route) in ("admin", "domain_user", "box"):
        assert_error(answer, 403, route)
    else:
        assert answer.status_code == 200, (route.id, answer.status_code)
        assert not names_any(answer.content.decode(), world_b), route.id
    assert snapshot(beta) == before
