"""The /api/ route matrix (tests/test_api_matrix.py): every route from the URL resolver,
who may call it, the bodies and set-up that make a leak visible, and two populated
domains to compare before and after."""

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
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern
from django.utils import timezone
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
    new_public_id,
)
from incidents.models import CounterReport
from pacs import services as pacs_services
from pacs.models import PacsDevice, PacsEvent, PacsIntegration

PUBLIC = {"api/schema/", "api/docs/"}  # the schema and its docs page need no token
HTTP_METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")
POLYGONS = [[[0, 0], [1, 0], [1, 1]]]
# An OnGuard event of door 1_1 (the seed's example), as a PACS gateway sends it.
ONGUARD = Path(__file__).parents[1] / "fixtures" / "pacs" / "onguard.json"
PACS_EVENT = json.loads(ONGUARD.read_text())["event"]


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


def route_methods(callback: Any) -> list[str]:
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
    for method in route_methods(pattern.callback)
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
    **dict.fromkeys(
        ["zone_id", "endpoint_id", "job_id", "hook_id", "integration_id"], new_public_id
    ),
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
        "secret": endpoint.current_key().secret,  # not a path kwarg: in no other answer
    }


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


TEMPLATES = sorted({r.template for r in ROUTES})
