"""The /api/ permission matrix (DESIGN.md sections 9 and 10).

Every route: 401 without a valid token, 403 with the wrong kind of token, 404 for
another domain's ids (and nothing changes). The route list comes from the URL
resolver, so a new route cannot skip the matrix: each of its path kwargs must map
to one of domain B's objects (KWARG_OBJECTS), and it must be classified (access()).
The OpenAPI schema documents exactly these routes.
"""

from __future__ import annotations

import datetime
import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern
from django.utils import timezone
from rest_framework.settings import api_settings
from rest_framework.test import APIClient

from callbacks import services as callbacks
from callbacks.models import Delivery, DeliveryState, Endpoint, Event, ReplayJob
from domains import services
from domains.models import (
    ApiToken,
    AuditEntry,
    Camera,
    Device,
    Domain,
    DomainAdministrator,
    Hook,
    User,
    Zone,
)
from incidents.models import CounterReport
from pacs import services as pacs_services
from pacs.models import PacsDevice, PacsEvent, PacsIntegration

# --- The routes, from the resolver ------------------------------------------------

PUBLIC = {"api/schema/", "api/docs/"}  # the schema and its docs page need no token
HTTP_METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")
POLYGONS = [[[0, 0], [1, 0], [1, 1]]]
# An OnGuard event of door 1_1 (the seed's example), as a PACS gateway sends it.
PACS_EVENT = json.loads((Path(__file__).parent / "fixtures" / "pacs" / "onguard.json").read_text())[
    "event"
]


def _regex_template(regex: str) -> str:
    """``^endpoints/(?P<endpoint_id>[^/]+)$`` → ``endpoints/{endpoint_id}``."""
    regex = regex.removeprefix("^").removesuffix("$").removesuffix(r"\Z")
    out, i = [], 0
    while i < len(regex):
        if not regex.startswith("(?P<", i):
            out.append(regex[i])
            i += 1
            continue
        end = regex.index(">", i)
        name, depth, j = regex[i + 4 : end], 1, end + 1
        while depth:
            if regex[j] == "\\":
                j += 2
                continue
            depth += {"(": 1, ")": -1}.get(regex[j], 0)
            j += 1
        out.append("{" + name + "}")
        i = j
    return "".join(out)


def _template(pattern: Any) -> str:
    if isinstance(pattern, RoutePattern):
        return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern))
    if isinstance(pattern, RegexPattern):
        return _regex_template(str(pattern))
    raise TypeError(f"unknown URL pattern type {type(pattern).__name__}: {pattern}")


def _walk(patterns: list, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for entry in patterns:
        template = prefix + _template(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, template)
        else:
            yield template, entry


def _methods(callback: Any) -> list[str]:
    """A ViewSet's action map, or the HTTP methods an APIView implements."""
    actions = getattr(callback, "actions", None)
    if actions:
        return sorted(actions)
    view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    if view_class is None:
        return []
    return sorted(
        m
        for m in view_class.http_method_names
        if m not in ("head", "options") and callable(getattr(view_class, m, None))
    )


def api_patterns() -> list[tuple[str, URLPattern]]:
    """Every (template, pattern) under api/, the public schema and docs included."""
    return [(t, p) for t, p in _walk(get_resolver().url_patterns) if t.startswith("api/")]


@dataclass(frozen=True)
class Route:
    template: str  # "api/endpoints/{endpoint_id}/disable"
    name: str  # "endpoint-disable"
    method: str  # "post"

    @property
    def id(self) -> str:
        return f"{self.method.upper()} /{self.template}"

    @property
    def kwargs(self) -> list[str]:
        return re.findall(r"\{(\w+)\}", self.template)

    @property
    def resource(self) -> str:
        return self.template.split("/")[1]


ROUTES = [
    Route(template, pattern.name or "", method)
    for template, pattern in api_patterns()
    if template not in PUBLIC
    for method in _methods(pattern.callback)
]
DETAIL = [r for r in ROUTES if r.kwargs]
COLLECTION = [r for r in ROUTES if not r.kwargs]
by_id = pytest.mark.parametrize("route", ROUTES, ids=[r.id for r in ROUTES])
detail_by_id = pytest.mark.parametrize("route", DETAIL, ids=[r.id for r in DETAIL])
collection_by_id = pytest.mark.parametrize("route", COLLECTION, ids=[r.id for r in COLLECTION])

# Path kwarg → which of a domain's objects fills it ((resource, kwarg) first: pk is ambiguous).
KWARG_OBJECTS = {
    "name": "name",
    "device_id": "device_id",
    "camera_id": "camera_id",
    "zone_id": "zone_id",
    "endpoint_id": "endpoint_id",
    "job_id": "job_id",
    "hook_id": "hook_id",
    ("events", "pk"): "event_id",
    ("deliveries", "pk"): "delivery_id",
    "integration_id": "integration_id",
    ("pacs", "device_id"): "pacs_device_id",  # a door or reader of the integration, not a Box
    "prefix": "pacs_token_prefix",
}
# Ids the same in every domain (a PACS names its doors 1_1 wherever it runs): they
# cannot tell whose object an answer shows.
SHARED_IDS = {"pacs_device_id"}
# Ids that exist nowhere but still match their route's pattern (a token prefix is cpp_…).
NOWHERE_SHAPES: dict[str, Callable[[], str]] = {
    "pacs_token_prefix": lambda: "cpp_" + uuid.uuid4().hex[:8],
}

ADMIN_RESOURCES = {
    "domains",
    "endpoints",
    "events",
    "deliveries",
    "devices",
    "cameras",
    "zones",
    "replays",
}
# GET routes whose answer is the same for every domain (nothing of a domain's in it).
DOMAIN_FREE = {"api/event-types"}


BOX_TEMPLATES = {"api/devices/{device_id}/counters"}
# A user's own objects (a domain's admins see all of the domain's PACS integrations too).
DOMAIN_USER_COLLECTIONS = ("api/users/me/hooks", "api/pacs/integrations")


def access(route: Route) -> str:
    """Who may call the route: 'admin' (a domain's admins), 'domain_user' (any user of a
    registered domain), 'signed_in' (any user token), 'box' (only the Box's own token).
    A new route must be classified."""
    if route.template in BOX_TEMPLATES:
        return "box"
    if any(
        route.template == collection or route.template.startswith(collection + "/")
        for collection in DOMAIN_USER_COLLECTIONS
    ):
        return "domain_user"
    if route.template in ("api/users/me", "api/event-types"):
        return "signed_in"
    if route.resource in ADMIN_RESOURCES:
        return "admin"
    pytest.fail(f"{route.id}: new route; classify it in access()")


def object_key(route: Route, kwarg: str) -> str:
    key = KWARG_OBJECTS.get((route.resource, kwarg)) or KWARG_OBJECTS.get(kwarg)
    if key is None:
        pytest.fail(f"{route.id} has {{{kwarg}}}: map it to a domain object in KWARG_OBJECTS")
    return key


def path_for(route: Route, ids: dict[str, str]) -> str:
    path = "/" + route.template
    for kwarg in route.kwargs:
        path = path.replace("{" + kwarg + "}", ids[object_key(route, kwarg)])
    return path


# --- Bodies: valid for the domain whose ids fill them, so a leak would really write --

Body = Callable[[dict[str, str]], dict[str, Any]]


def _replay_range(ids: dict[str, str]) -> dict[str, Any]:
    now = timezone.now()
    return {
        "since": (now - datetime.timedelta(days=1)).isoformat(),
        "until": (now + datetime.timedelta(minutes=1)).isoformat(),
        "include_all": True,
    }


BODIES: dict[tuple[str, str], Body] = {
    ("hook-list", "post"): lambda ids: {
        "callback_url": "https://hooks.example.com/matrix",
        "type": "query_match",
        "parsed_query": "labels in ['person']",
    },
    ("domain-detail", "patch"): lambda ids: {"min_upload_queue_length_for_incident_creation": 7},
    ("endpoint-list", "post"): lambda ids: {
        "url": "https://hooks.example.com/new",
        "event_types": ["camera.created"],
        "domain": ids["name"],
    },
    ("endpoint-detail", "patch"): lambda ids: {"description": "changed by the matrix"},
    ("endpoint-disable", "post"): lambda ids: {"reason": "the matrix"},
    ("endpoint-test", "post"): lambda ids: {"event_type": "camera.created"},
    ("endpoint-replay", "post"): _replay_range,
    ("device-list", "post"): lambda ids: {"name": "New Box", "owner": ids["admin_email"]},
    ("device-detail", "patch"): lambda ids: {"name": "Renamed Box"},
    ("camera-list", "post"): lambda ids: {"name": "New Camera", "device_id": ids["device_id"]},
    ("camera-detail", "patch"): lambda ids: {"name": "Renamed Camera"},
    ("zone-list", "post"): lambda ids: {
        "name": "New Zone",
        "polygons": POLYGONS,
        "camera_id": ids["camera_id"],
    },
    ("zone-detail", "patch"): lambda ids: {"name": "Renamed Zone"},
    ("counters", "post"): lambda ids: {
        "time": timezone.now().isoformat(),
        "cameras": {ids["camera_id"]: {"movies_purged_count": 1}},
    },
    ("pacs-integration-list", "post"): lambda ids: {"name": "Matrix PACS", "vendor": "onguard"},
    ("pacs-integration-detail", "patch"): lambda ids: {"name": "Renamed PACS"},
    ("pacs-integration-map-device", "patch"): lambda ids: {"camera_ids": [ids["camera_id"]]},
}


def _disable_endpoint(ids: dict[str, str]) -> None:
    endpoint = Endpoint.objects.get(endpoint_id=ids["endpoint_id"])
    callbacks.endpoint_disable(endpoint=endpoint, actor=None, reason="so enabling changes it")


def _open_circuit(ids: dict[str, str]) -> None:
    Endpoint.objects.filter(endpoint_id=ids["endpoint_id"]).update(
        circuit_opened_at=timezone.now(), breaker_failures=10
    )


# Set up the target so the request would change something (enabling an enabled endpoint
# is a no-op, and a no-op cannot show a leak).
def _pending_delivery(ids: dict[str, str]) -> None:
    Delivery.objects.filter(pk=ids["delivery_id"]).update(state="pending")


PREPARE: dict[tuple[str, str], Callable[[dict[str, str]], None]] = {
    ("endpoint-enable", "post"): _disable_endpoint,
    ("endpoint-probe", "post"): _open_circuit,
    ("delivery-cancel", "post"): _pending_delivery,
}


def body_for(route: Route, ids: dict[str, str]) -> dict[str, Any]:
    make = BODIES.get((route.name, route.method))
    return make(ids) if make else {}


def call(client: APIClient, route: Route, ids: dict[str, str], body_ids: dict | None = None):
    path = path_for(route, ids)
    if route.method in ("get", "delete"):
        return getattr(client, route.method)(path)
    return getattr(client, route.method)(path, body_for(route, body_ids or ids), format="json")


def prepare(route: Route, ids: dict[str, str]) -> None:
    step = PREPARE.get((route.name, route.method))
    if step:
        step(ids)


# --- Two populated domains --------------------------------------------------------


def populate(domain: Domain, admin: User, endpoint_for, device: Device | None = None) -> dict:
    """Give ``domain`` one of everything the routes name; return the public ids."""
    endpoint = endpoint_for(f"https://hooks.{domain.name}/camio", domain=domain)
    if device is None:
        device = services.device_create(
            owner=admin, name=f"{domain.name} Box", mac_address="aa:bb:cc:00:99:88"
        )
    camera = services.camera_create(owner=admin, device=device, name=f"{domain.name} Cam")
    zone = services.zone_create(camera=camera, name="Gate", polygons=POLYGONS)
    hook = services.hook_create(
        owner=admin,
        callback_url=f"https://search.{domain.name}/hook",
        type="query_match",
        parsed_query="labels in ['person']",
    )
    # Finished, so resending is allowed (a leak of resend would write).
    Delivery.objects.filter(domain=domain).update(
        state=DeliveryState.FAILED, finished_at=timezone.now()
    )
    delivery = Delivery.objects.get(domain=domain, event_type="hook.created")
    now = timezone.now()
    job = ReplayJob.objects.create(
        endpoint=endpoint, start=now - datetime.timedelta(hours=1), end=now
    )
    # A PACS integration of the admin's with a door (not mapped yet), a token, an event.
    integration = pacs_services.integration_create(
        owner=admin, vendor="onguard", name=f"{domain.name} OnGuard"
    )
    pacs_services.devices_replace(
        integration=integration,
        devices=[{"device_id": "1_1", "device_name": f"{domain.name} Rooftop Reader"}],
    )
    pacs_token, _ = pacs_services.integration_token_issue(integration=integration, actor=None)
    pacs_services.ingest_events(integration=integration, events=[PACS_EVENT])
    pacs_event = PacsEvent.objects.get(integration=integration)
    return {
        "name": domain.name,
        "admin_email": admin.email,
        "device_id": device.device_id,
        "camera_id": camera.camera_id,
        "zone_id": zone.zone_id,
        "endpoint_id": endpoint.endpoint_id,
        "event_id": str(delivery.event_id),
        "delivery_id": str(delivery.pk),
        "job_id": job.job_id,
        "hook_id": hook.hook_id,
        "integration_id": integration.integration_id,
        "pacs_device_id": "1_1",
        "pacs_token_prefix": pacs_token.prefix,
        "pacs_event_id": str(pacs_event.pk),  # not a path kwarg: listed by .../events
        "secret": endpoint.secret,  # not a path kwarg: in no other domain's answer either
    }


@pytest.fixture
def world_a(acme, acme_admin, box, endpoint_for) -> dict[str, str]:
    """acme.com's objects (its Box is the ``box`` fixture)."""
    return populate(acme, acme_admin, endpoint_for, device=box)


@pytest.fixture
def world_b(beta, beta_admin, endpoint_for) -> dict[str, str]:
    """beta.org's objects: the ids another domain's callers must not reach."""
    return populate(beta, beta_admin, endpoint_for)


def nowhere() -> dict[str, str]:
    """Ids that exist in no domain."""
    return {
        key: NOWHERE_SHAPES.get(key, lambda: str(uuid.uuid4()))()
        for key in set(KWARG_OBJECTS.values())
    }


def _rows(queryset) -> list[dict]:
    return list(queryset.order_by("pk").values())


def snapshot(domain: Domain) -> dict[str, Any]:
    """Everything of ``domain`` a request could change."""
    return {
        "domain": _rows(Domain.objects.filter(pk=domain.pk)),
        "administrators": _rows(DomainAdministrator.objects.filter(domain=domain)),
        "users": _rows(User.objects.filter(domain=domain).defer("last_login")),
        "endpoints": _rows(Endpoint.objects.filter(domain=domain)),
        "devices": _rows(Device.objects.filter(domain=domain)),
        "cameras": _rows(Camera.objects.filter(domain=domain)),
        "zones": _rows(Zone.objects.filter(domain=domain)),
        "hooks": _rows(Hook.objects.filter(domain=domain)),
        "events": sorted(
            str(pk) for pk in Event.objects.filter(domain=domain).values_list("pk", flat=True)
        ),
        "deliveries": _rows(Delivery.objects.filter(domain=domain)),
        "replays": _rows(ReplayJob.objects.filter(endpoint__domain=domain)),
        "counter_reports": list(
            CounterReport.objects.filter(domain=domain).values_list("pk", flat=True)
        ),
        "tokens": list(
            ApiToken.objects.filter(user__domain=domain).order_by("pk").values("pk", "revoked_at")
        ),
        "audit": list(AuditEntry.objects.filter(domain=domain).values_list("pk", flat=True)),
        "pacs_integrations": _rows(PacsIntegration.objects.filter(domain=domain)),
        "pacs_devices": _rows(PacsDevice.objects.filter(integration__domain=domain)),
        "pacs_device_cameras": list(
            PacsDevice.cameras.through.objects.filter(pacsdevice__integration__domain=domain)
            .order_by("pk")
            .values_list("pacsdevice_id", "camera_id")
        ),
        "pacs_events": _rows(PacsEvent.objects.filter(domain=domain)),
    }


def names_any(text: str, ids: dict[str, str]) -> list[str]:
    return [value for key, value in ids.items() if key not in SHARED_IDS and value in text]


def assert_error(answer, status: int, route: Route) -> None:
    """The one error format: ``{"errors": {"<field>": ["<message>", ...]}}``."""
    assert answer.status_code == status, (route.id, answer.status_code, answer.content[:300])
    body = answer.json()
    assert set(body) == {"errors"}, (route.id, body)
    errors = body["errors"]
    assert isinstance(errors, dict) and errors, (route.id, body)
    for field, messages in errors.items():
        assert isinstance(field, str) and isinstance(messages, list) and messages, (route.id, body)
        assert all(isinstance(m, str) and m for m in messages), (route.id, body)


# --- The route list itself ----------------------------------------------------------


def test_the_matrix_covers_every_api_route():
    found = api_patterns()
    templates = {t for t, _ in found}
    assert templates >= PUBLIC, "the public schema/docs routes moved: update PUBLIC"
    for template, pattern in found:
        assert not re.search(r"[\^$()\[\]*+?\\|]", template), f"cannot read /{template}"
        if template not in PUBLIC:
            assert _methods(pattern.callback), f"/{template}: no HTTP methods found"
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


TEMPLATES = sorted({r.template for r in ROUTES})


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
