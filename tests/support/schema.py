"""Schemathesis against the API (tests/test_api_schemathesis.py): its checks and budgets,
the objects a generated request may name (World) and the hand-written edge cases."""

from __future__ import annotations

import contextlib
import datetime
import os
import signal
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from django.utils import timezone
from hypothesis import HealthCheck, Phase, Verbosity
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from callbacks import catalog
from callbacks.models import Attempt, Delivery, DeliveryState, Endpoint, ReplayJob
from callbacks.publishing import publish
from domains import services
from domains.models import ApiToken, Camera, Device, Hook, Zone
from pacs import services as pacs_services
from pacs.models import PacsIntegration

# `make fuzz` asks for more examples (CAMIO_FUZZ_EXAMPLES) and new ones on every run
# (CAMIO_FUZZ_RANDOM=1); the suite's run is the same on every machine.
MAX_EXAMPLES = int(os.environ.get("CAMIO_FUZZ_EXAMPLES") or 50)  # per operation and mode
RANDOM = os.environ.get("CAMIO_FUZZ_RANDOM") == "1"
REQUEST_TIMEOUT = 10.0  # seconds; ?wait alone takes about 1 s
RUN_BUDGET = 6 * 60.0 * max(1.0, MAX_EXAMPLES / 50)  # seconds for the whole run
TRIANGLE = [[[0, 0], [1, 0], [1, 1]]]
# An OnGuard event of door 1_1, as the gateway sends it (the seed's example).
ONGUARD_EVENT = {
    "controller_id": 1, "device_id": 1, "event_type": 4, "event_subtype": 10,
    "serial_number": 1611881197, "timestamp": "2021-01-29T01:14:33.000000",
}
# Schemathesis 4's defaults, plus 413 (negative: a batch over its limit) for every operation;
# a 422 to positive data passes only for UNSTATED_RULES (below).
CHECK_CONFIG = {
    "positive_data_acceptance": {
        "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]
    },
    "negative_data_rejection": {
        "expected-statuses": [
            "400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429",
            "5xx",
        ]
    },
}
# The rules a well-formed request can still break, which no JSON Schema can state (they
# depend on stored rows, on another field or on the clock): the API answers 422 naming
# the field (docs/api.md, "What the schema cannot say"). A 422 to a request the schema
# allows must name only these; any other field means the schema is looser than the server.
UNSTATED_RULES = {
    "owner": "a user of the domain",
    "device_id": "a Box of the domain; for a new Box, an id no Box has",
    "camera_id": "a camera of the domain; for a new camera, an id no camera has",
    "camera_ids": "cameras of the integration's domain",
    "domain": "a domain you administer",
    "delivery": "only a pending delivery can be cancelled, a finished one resent",
    "until": "after since",
    "parsed_query": "the hook query language",
    "time": "a counter report's time, within the window around now",
    "event": "an event its vendor's normalizer reads (the schema takes any JSON for one)",
    "rejected": "batch items, each judged alone by its own rules (the schema takes any JSON)",
    "retry_schedule": "its delays add up to at most CALLBACK_RETRY_MAX_AGE",
    "filter": "the payload filter language (the schema takes any JSON for one)",
    "client_certificate": "a readable PEM certificate and key that are one pair, not expired",
    "ca_bundle": "readable PEM certificates",
    "oauth_token_url": "the guard's URL rules; given with the client id and secret",
    "oauth_client_id": "given with a token URL",
    "oauth_client_secret": "given with a token URL",
}


def refused_fields(response: Any) -> set[str]:
    """The fields a 422 names: ``errors``' keys, and ``rejected`` for a batch's refused items."""
    try:
        body = response.json()
    except ValueError:
        return set()
    if not isinstance(body, dict):
        return set()
    fields = set(body.get("errors") or {})
    if body.get("rejected"):
        fields.add("rejected")  # items judged alone, whatever each one's errors name
    return fields


# The one rule free-form JSON (the schema's unconstrained JsonValue, kept so that client
# generators keep the routes) has: no NUL or lone surrogate in any string (apikit.parsers,
# docs/api.md). Every named string states it with its pattern, so only a free-form value
# can carry one in a request the schema allows.
FREE_FORM_RULES = (
    "JSON text may not contain NUL (\\u0000) characters.",
    "JSON text may not contain lone surrogates (such as \\ud800).",
)


def messages(response: Any) -> list[str]:
    try:
        errors = response.json().get("errors") or {}
    except (ValueError, AttributeError):
        return []
    return [message for found in errors.values() for message in found]


def positive_data_acceptance_or_unstated_rule(ctx: Any, response: Any, case: Any) -> bool | None:
    """Schemathesis' ST202 check, except for a 422 that names only UNSTATED_RULES and the
    400 of free-form JSON's one rule."""
    fields = refused_fields(response) if response.status_code == 422 else set()
    if fields and fields <= UNSTATED_RULES.keys():
        return None
    found = messages(response) if response.status_code == 400 else []
    if found and all(message in FREE_FORM_RULES for message in found):
        return None
    return positive_data_acceptance(ctx, response, case)


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    positive_data_acceptance_or_unstated_rule,
    negative_data_rejection,
]
HYPOTHESIS = hypothesis_settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=not RANDOM,  # the suite: the same examples on every run, CI is repeatable
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=list(HealthCheck),
    verbosity=Verbosity.quiet,
    report_multiple_bugs=False,
)


class RequestTimedOut(BaseException):
    """A request ran past REQUEST_TIMEOUT (a BaseException so Django does not make it a 500)."""


# Schemathesis reports failed checks as a FailureGroup, a BaseExceptionGroup.
FAILURES = (Exception, BaseExceptionGroup, RequestTimedOut)


@contextlib.contextmanager
def request_timeout(seconds: float) -> Iterator[None]:
    def expire(signum: int, frame: Any) -> None:
        raise RequestTimedOut(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class World:
    """acme.com's objects the routes act on, re-created when a request removed them."""

    def __init__(self, admin, box, camera, zone, endpoint_for) -> None:
        self.admin = admin
        self.endpoint_for = endpoint_for
        self._endpoint = endpoint_for("https://hooks.example.com/camio")
        self._device, self._camera, self._zone = box, camera, zone
        # An event fanned out to the endpoint: the logs have rows to list and filter.
        services.camera_update(camera=camera, actor=admin, changes={"name": "Front Door"})
        self._hook: Hook | None = None
        self._delivery: Delivery | None = None
        self._job: ReplayJob | None = None
        self._integration: PacsIntegration | None = None
        self._pacs_prefix: str | None = None
        self.serial = 0

    def _next(self) -> int:
        self.serial += 1
        return self.serial

    def endpoint(self) -> Endpoint:
        if not Endpoint.objects.live().filter(pk=self._endpoint.pk, enabled=True).exists():
            self._endpoint = self.endpoint_for(f"https://hooks.example.com/camio/{self._next()}")
        return self._endpoint

    def device(self) -> Device:
        if not Device.objects.filter(pk=self._device.pk).exists():
            n = self._next()
            self._device = services.device_create(
                owner=self.admin, name=f"Box {n}", mac_address=f"aa:bb:cc:00:12:{n % 256:02x}"
            )
        return self._device

    def camera(self) -> Camera:
        if not Camera.objects.filter(pk=self._camera.pk).exists():
            self._camera = services.camera_create(
                owner=self.admin, device=self.device(), name=f"Camera {self._next()}"
            )
        return self._camera

    def zone(self) -> Zone:
        if not Zone.objects.filter(pk=self._zone.pk).exists():
            self._zone = services.zone_create(
                camera=self.camera(), name=f"Zone {self._next()}", polygons=TRIANGLE
            )
        return self._zone

    def hook(self) -> Hook:
        if self._hook is None or not Hook.objects.filter(pk=self._hook.pk).exists():
            self._hook = services.hook_create(
                owner=self.admin,
                callback_url="https://hooks.example.com/search",
                type="query_match",
                parsed_query="camera == 'Front Entrance' and labels in ['person']",
            )
        return self._hook

    def delivery(self) -> Delivery:
        """A finished delivery, with one attempt, to a live enabled endpoint (resendable)."""
        endpoint = self.endpoint()
        if self._delivery is None or self._delivery.endpoint_id != endpoint.pk:
            entry = catalog.get("camera.updated")
            event = publish(
                domain=endpoint.domain, type=entry.name, object=entry.example, endpoint=endpoint
            )
            delivery = event.deliveries.get()
            now = timezone.now()
            Attempt.objects.create(
                delivery=delivery,
                number=1,
                due_at=now,
                started_at=now,
                finished_at=now,
                duration_ms=12,
                request_method="POST",
                request_url=endpoint.url,
                request_headers=[["content-type", "application/json"]],
                response_status=200,
                response_headers=[["content-type", "text/plain"]],
                response_body="ok",
                succeeded=True,
            )
            Delivery.objects.filter(pk=delivery.pk).update(
                state=DeliveryState.SUCCEEDED, attempt_count=1, last_status_code=200,
                finished_at=now,
            )
            self._delivery = delivery
        return self._delivery

    def job(self) -> ReplayJob:
        if self._job is None:
            from callbacks.services import replay_start

            now = timezone.now()
            self._job = replay_start(
                endpoint=self.endpoint(),
                start=now - datetime.timedelta(days=1),
                end=now + datetime.timedelta(minutes=1),
                include_all=True,
                actor=self.admin,
            )
        return self._job

    def integration(self) -> PacsIntegration:
        """acme's OnGuard integration (managed under /api/pacs/integrations), with door
        1_1 and one event; not the gateway's, so deleting it or rotating its tokens
        leaves /pacs/* working."""
        if (
            self._integration is None
            or not PacsIntegration.objects.live().filter(pk=self._integration.pk).exists()
        ):
            n = self._next()
            self._integration = pacs_services.integration_create(
                owner=self.admin, vendor="onguard", name=f"HQ OnGuard {n}",
                source_server="apac.int.acme.com:443",
            )
            pacs_services.devices_replace(
                integration=self._integration,
                devices=[{"device_id": "1_1", "device_name": "Rooftop Reader 1"}],
            )
            pacs_services.ingest_events(integration=self._integration, events=[ONGUARD_EVENT])
            self._pacs_prefix = None
        return self._integration

    def pacs_device_id(self) -> str:
        """A door of the current integration (no request removes one)."""
        return self.integration().devices.get().device_id

    def pacs_prefix(self) -> str:
        """The prefix of a live token of the current integration (revoking or rotating
        revokes it)."""
        integration = self.integration()
        live = ApiToken.objects.live().filter(prefix=self._pacs_prefix or "")
        if self._pacs_prefix is None or not live.exists():
            token, _ = pacs_services.integration_token_issue(
                integration=integration, actor=self.admin
            )
            self._pacs_prefix = token.prefix
        return self._pacs_prefix

    def pacs_auth(self) -> dict[str, str]:
        """A PACS token of acme's OnGuard integration (the gateway routes take no other)."""
        if getattr(self, "_pacs_token", None) is None:
            from pacs.services import integration_create, integration_token_issue

            integration = integration_create(owner=self.admin, vendor="onguard", name="Fuzz")
            self._pacs_token = integration_token_issue(integration=integration, actor=None)[1]
        return {"Authorization": f"Bearer {self._pacs_token}"}

    def box_auth(self) -> dict[str, str]:
        """A Box token of the current Box: the counters route takes no user token."""
        device = self.device()
        if getattr(self, "_box_token", (None, None))[0] != device.pk:
            _, raw = services.token_issue(kind="box", user=None, name="fuzz", device=device,
                                          actor=None)
            self._box_token = (device.pk, raw)
        return {"Authorization": f"Bearer {self._box_token[1]}"}

    # Path parameters and one valid request per operation ---------------------------

    def path_parameters(self, path: str) -> dict[str, str]:
        """Real values for the path parameters of ``path`` (an OpenAPI path template)."""
        prefix = path.removeprefix("/api/").split("/")[0]
        values: dict[str, Callable[[], str]] = {
            "{integration_id}": lambda: self.integration().integration_id,  # first: re-created
            "{prefix}": self.pacs_prefix,
            "{name}": lambda: "acme.com",
            "{endpoint_id}": lambda: self.endpoint().endpoint_id,
            "{job_id}": lambda: self.job().job_id,
            "{device_id}": (
                self.pacs_device_id if prefix == "pacs" else (lambda: self.device().device_id)
            ),
            "{camera_id}": lambda: self.camera().camera_id,
            "{zone_id}": lambda: self.zone().zone_id,
            "{hook_id}": lambda: self.hook().hook_id,
            "{id}": (
                (lambda: str(self.delivery().pk))
                if prefix == "deliveries"
                else (lambda: str(self.delivery().event_id))
            ),
        }
        return {
            name.strip("{}"): value()
            for name, value in values.items()
            if name in path
        }

    def use_real_ids(self, case: schemathesis.Case) -> None:
        """Put real ids in the path and in the body's references to other objects."""
        if case.path_parameters:
            case.path_parameters = self.path_parameters(case.operation.path)
        body = case.body
        if not isinstance(body, dict):
            return
        method, path = case.method.upper(), case.operation.path
        references: dict[str, Callable[[], str]] = {
            "owner": lambda: self.admin.email,
            "domain": lambda: "acme.com",
        }
        if path.startswith("/api/cameras"):
            references["device_id"] = lambda: self.device().device_id
        if (method, path) == ("POST", "/api/zones"):
            references["camera_id"] = lambda: self.camera().camera_id
        if path.startswith("/api/endpoints") and method in ("POST", "PATCH"):
            references["url"] = lambda: "https://hooks.example.com/fuzzed"
        if path.startswith("/api/users/me/hooks"):
            references["callback_url"] = lambda: "https://hooks.example.com/search"
        case.body = {
            key: references[key]() if key in references and isinstance(value, str) else value
            for key, value in body.items()
        }
        if path.startswith("/api/pacs/integrations") and isinstance(body.get("camera_ids"), list):
            case.body["camera_ids"] = [self.camera().camera_id]

    def valid_request(self, method: str, path: str) -> dict[str, Any]:
        """Query and body of a request to ``method path`` that must succeed."""
        n = self._next()
        now = timezone.now()
        bodies: dict[tuple[str, str], Callable[[], Any]] = {
            ("POST", "/api/devices"): lambda: {
                "name": f"Garage Box {n}", "mac_address": f"aa:bb:cc:00:13:{n % 256:02x}"
            },
            ("PATCH", "/api/devices/{device_id}"): lambda: {"name": f"Lobby Box {n}"},
            ("POST", "/api/cameras"): lambda: {
                "name": f"Side Door {n}", "device_id": self.device().device_id,
                "ip_address": "192.168.1.30",
            },
            ("PATCH", "/api/cameras/{camera_id}"): lambda: {"name": f"Front Entrance {n}"},
            ("POST", "/api/zones"): lambda: {
                "name": f"Gate {n}", "camera_id": self.camera().camera_id,
                "polygons": TRIANGLE,
            },
            ("PATCH", "/api/zones/{zone_id}"): lambda: {"name": f"Doorway {n}"},
            ("PATCH", "/api/domains/{name}"): lambda: {
                "min_upload_queue_length_for_incident_creation": 25
            },
            ("POST", "/api/endpoints"): lambda: {
                "url": f"https://hooks.example.com/new/{n}",
                "event_types": ["camera.created", "zone.created"],
                "headers": {"Authorization": "token XYZPDQ"},
            },
            ("PATCH", "/api/endpoints/{endpoint_id}"): lambda: {"description": f"Edited {n}"},
            ("POST", "/api/endpoints/{endpoint_id}/disable"): lambda: {"reason": "Maintenance"},
            ("POST", "/api/endpoints/{endpoint_id}/test"): lambda: {"event_type": "zone.created"},
            ("POST", "/api/endpoints/{endpoint_id}/replay"): lambda: {
                "since": (now - datetime.timedelta(days=1)).isoformat(),
                "until": (now + datetime.timedelta(minutes=1)).isoformat(),
                "include_all": True,
            },
            ("POST", "/api/devices/{device_id}/counters"): lambda: {"reports": [{
                "time": (now - datetime.timedelta(seconds=n)).isoformat(),
                "cameras": {self.camera().camera_id: {"movies_purged_count": 1}},
                "box": {"upload_queue_length": 3},
            }]},
            ("POST", "/pacs/devices"): lambda: {"devices": [
                {"device_id": "1_1", "device_name": "Rooftop Reader 1"}]},
            ("POST", "/pacs/webhooks"): lambda: {"events": [{
                "controller_id": 1, "device_id": 1, "event_type": 4, "event_subtype": 10,
                "serial_number": n, "timestamp": "2021-01-29T01:14:33.000000"}]},
            ("POST", "/api/pacs/integrations"): lambda: {
                "name": f"Dock OnGuard {n}", "vendor": "onguard",
                "source_server": "dock.int.acme.com:443", "time_zone": "America/Chicago",
            },
            ("PATCH", "/api/pacs/integrations/{integration_id}"): lambda: {
                "name": f"HQ OnGuard {n}", "time_zone": "Europe/Berlin",
            },
            ("PATCH", "/api/pacs/integrations/{integration_id}/devices/{device_id}"): lambda: {
                "camera_ids": [self.camera().camera_id],
            },
            ("POST", "/api/users/me/hooks"): lambda: {
                "callback_url": "https://hooks.example.com/search",
                "type": "label_hit",
                "parsed_query": "labels in ['car']",
            },
        }
        request: dict[str, Any] = {}
        if (method, path) in bodies:
            request["body"] = bodies[(method, path)]()
            request["media_type"] = "application/json"
        if path.endswith("/test"):
            request["query"] = {"wait": "true"}  # no worker runs: waits ~1 s, then 202
        if (method, path) == ("POST", "/api/deliveries/{id}/cancel"):
            Delivery.objects.filter(pk=self.delivery().pk).update(state=DeliveryState.PENDING)
        if (method, path) == ("POST", "/api/endpoints/{endpoint_id}/enable"):
            Endpoint.objects.filter(pk=self.endpoint().pk).update(enabled=False)
            request["path_parameters"] = {"endpoint_id": self._endpoint.endpoint_id}
            return request
        request["path_parameters"] = self.path_parameters(path)
        return request


# Inputs random generation seldom builds; each must answer as documented, never 5xx.
EDGE_CASES = [
    pytest.param(
        # Before year 1 in UTC: read as the first instant, so every event is after it.
        "GET", "/api/events", lambda w: {"query": {"since": "0001-01-01T00:00:00+14:00"}}, 200,
        id="events-since-before-year-1-in-utc",
    ),
    pytest.param(
        "GET", "/api/deliveries", lambda w: {"query": {"until": "9999-12-31T23:59:59-14:00"}},
        200, id="deliveries-until-after-year-9999-in-utc",
    ),
    pytest.param(
        "POST", "/api/endpoints/{endpoint_id}/replay",
        lambda w: {"body": {"since": "0001-01-01T00:00:00+14:00", "until": "2030-01-01T00:00:00Z"}},
        202, id="replay-since-before-year-1-in-utc",
    ),
    pytest.param(
        "POST", "/api/devices", lambda w: {"body": {"name": "Dock Box", "device_id": "DOCKBOX1"}},
        201, id="device-with-its-own-id",
    ),
    pytest.param(
        "POST", "/api/devices",
        lambda w: {"body": {"name": "Dock Box", "device_id": w.device().device_id}},
        422, id="device-with-a-taken-id",
    ),
    pytest.param(
        "GET", "/api/deliveries", lambda w: {"query": {"until": "0878-06-21T21:22:41-16:30"}},
        200, id="offset-beyond-postgresql",
    ),
    pytest.param(
        "POST", "/pacs/devices", lambda w: {"body": {"devices": [{"device_id": "1\u0000"}]}},
        400, id="nul-character",
    ),
    pytest.param(
        "POST", "/api/devices", lambda w: {"body": {"name": "Dock Box", "device_id": "a/b"}},
        400, id="device-id-with-a-slash",
    ),
    pytest.param(
        "POST", "/api/cameras",
        lambda w: {"body": {"name": "Dock", "device_id": w.device().device_id,
                            "camera_id": "DOCKCAM1"}},
        201, id="camera-with-its-own-id",
    ),
    pytest.param(
        "POST", "/api/cameras",
        lambda w: {"body": {"name": "Dock", "device_id": w.device().device_id,
                            "camera_id": w.camera().camera_id}},
        422, id="camera-with-a-taken-id",
    ),
    pytest.param(
        "POST", "/api/endpoints",
        lambda w: {"body": {"url": "http://[zz/", "event_types": ["zone.created"]}},
        400, id="endpoint-url-bad-ipv6",  # outside the schema's pattern
    ),
    pytest.param(
        "POST", "/api/users/me/hooks",
        lambda w: {"body": {"callback_url": "http://[zz/", "type": "query_match",
                            "parsed_query": "camera == 'Lobby'"}},
        400, id="hook-callback-url-bad-ipv6",  # the schema's pattern refuses it
    ),
    pytest.param(
        "POST", "/api/users/me/hooks",
        lambda w: {"body": {"callback_url": "https://hooks.example.com/", "type": "query_match",
                            "parsed_query": "(" * 900 + "camera == 'Lobby'" + ")" * 900}},
        422, id="hook-query-deeply-nested",
    ),
    pytest.param(
        "POST", "/api/zones",
        lambda w: {"body": {"name": "Gate", "camera_id": w.camera().camera_id,
                            "polygons": [[[10**400, 0], [1, 0], [1, 1]]]}},
        400, id="zone-point-beyond-float",
    ),
    pytest.param(
        "POST", "/api/pacs/integrations",
        lambda w: {"body": {"name": "Base", "vendor": "onguard", "time_zone": "Mars/Base"}},
        400, id="pacs-integration-unknown-time-zone",  # outside the schema's enum
    ),
    pytest.param(
        "PATCH", "/api/pacs/integrations/{integration_id}",
        lambda w: {"body": {"time_zone": "../../etc/passwd"}},
        400, id="pacs-integration-time-zone-path",
    ),
    pytest.param(
        "PATCH", "/api/pacs/integrations/{integration_id}/devices/{device_id}",
        lambda w: {"body": {"camera_ids": ["NOSUCHCAMERA"]}},
        422, id="pacs-device-unknown-camera",
    ),
    pytest.param(
        "DELETE", "/api/pacs/integrations/{integration_id}/tokens/{prefix}",
        lambda w: {"path_parameters": {"integration_id": w.integration().integration_id,
                                       "prefix": "cpp_NOSUCH00"}},
        404, id="pacs-token-unknown-prefix",
    ),
    # The issue's cases: what the schema forbids is refused, what it allows is taken.
    pytest.param("GET", "/api/events", lambda w: {"query": {"limit": "null"}}, 400,
                 id="limit-null"),
    pytest.param("GET", "/api/events", lambda w: {"query": {"until": "notadate"}}, 400,
                 id="until-not-a-date"),
    pytest.param("GET", "/api/deliveries", lambda w: {"query": {"since": "2026-11-26"}}, 400,
                 id="since-a-date-without-time"),
    pytest.param("GET", "/api/deliveries", lambda w: {"query": {"type": ""}}, 400,
                 id="type-empty"),
    pytest.param(
        "POST", "/api/endpoints/{endpoint_id}/test",
        lambda w: {"query": {"wait": "null"}, "body": {"event_type": "zone.created"}}, 400,
        id="wait-null",
    ),
    pytest.param(
        "POST", "/api/endpoints/{endpoint_id}/disable", lambda w: {"body": {"reason": 0}}, 400,
        id="reason-a-number",
    ),
    pytest.param(
        "POST", "/api/endpoints",
        lambda w: {"body": {"url": "https://hooks.example.com/x", "event_types": []}}, 400,
        id="event-types-empty",
    ),
    pytest.param(
        "POST", "/api/cameras",
        lambda w: {"body": {"name": "Dock", "device_id": w.device().device_id,
                            "ip_address": "not an ip"}},
        400, id="camera-ip-not-an-ip",
    ),
    pytest.param(
        "POST", "/api/devices", lambda w: {"body": {"name": "Dock", "owner": "nobody@acme.com"}},
        422, id="device-unknown-owner",
    ),
    pytest.param(
        "POST", "/api/devices", lambda w: {"body": {"name": "Dock\u0000Box"}}, 400,
        id="nul-in-a-name",
    ),
]
