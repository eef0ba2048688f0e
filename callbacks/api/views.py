"""The callbacks API: endpoints and replays, the event catalog, and a domain's events and
deliveries (the delivery log)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apikit.batch import Errors
from apikit.pagination import NewestFirst
from apikit.viewsets import UUID, AdminViewSet, StrictQuery
from callbacks import catalog
from callbacks import services as callbacks
from callbacks.api.filters import DeliveryFilter, EventFilter
from callbacks.api.serializers import (
    DeliveryDetailOut,
    DeliveryOut,
    DeliverySummaryOut,
    DisableIn,
    EndpointChangeIn,
    EndpointCreatedOut,
    EndpointIn,
    EndpointOut,
    EventDetailOut,
    EventOut,
    EventTypeOut,
    HealthOut,
    ReplayCountOut,
    ReplayIn,
    ReplayJobOut,
    RotateIn,
    SecretOut,
    TestEventIn,
)
from callbacks.endpoint_health import endpoint_health
from callbacks.models import Delivery, DeliveryState, Endpoint, Event, ReplayJob, SigningScheme
from callbacks.selectors import delivery_summary, jwks, jwks_url
from domains.models import Domain, signed_in_user

FINISHED = frozenset({DeliveryState.SUCCEEDED, DeliveryState.FAILED, DeliveryState.CANCELLED})
WAIT = OpenApiParameter(
    "wait",
    OpenApiTypes.BOOL,
    description="true: wait for the outcome (up to a server setting, 20 s by default): "
    "200 when it came in time, else 202 as without waiting.",
)


@contextmanager
def _filter_named_as_in_the_api(data: dict) -> Iterator[None]:
    """An endpoint's ``payload_filter`` is ``filter`` in the API: a refusal names it so. The
    schema takes any JSON for it (so generated clients keep it); the service judges it,
    and what it refuses answers 422 (docs/api.md, "What the schema cannot say")."""
    given = data.get("payload_filter")
    if given is not None and not isinstance(given, dict):
        raise ValidationError({"filter": ["A filter is a JSON object of dotted paths, or null "
                                          "for none."]})
    try:
        yield
    except ValidationError as exc:
        if not hasattr(exc, "error_dict") or "payload_filter" not in exc.error_dict:
            raise
        named = dict(exc.error_dict)
        named["filter"] = named.pop("payload_filter")
        raise ValidationError(named) from None


class Conflict(exceptions.APIException):
    """Refused because of the object's state now (it may be allowed later)."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


def _secret_out(endpoint: Endpoint, secret: str) -> dict:
    """The current ``secret`` and every key that signs now (their secrets not shown)."""
    return SecretOut({"secret": secret, "keys": endpoint.signing_keys.live(),
                      "jwks_url": jwks_url(endpoint)}).data


def _wait_for(delivery: Delivery, seconds: float) -> Delivery:
    """Poll ``delivery`` until it finishes or ``seconds`` pass (the worker sends it)."""
    deadline = time.monotonic() + seconds
    while delivery.state not in FINISHED and time.monotonic() < deadline:
        time.sleep(0.1)
        delivery.refresh_from_db(fields=["state"])
    return delivery


@extend_schema(tags=["endpoints"])
class EndpointViewSet(AdminViewSet):
    lookup_field = "endpoint_id"
    pagination_class = NewestFirst
    serializer_class = EndpointOut
    not_found = "No endpoint with this id in your domain."

    def get_queryset(self):
        return (
            Endpoint.objects.live().filter(domain__in=self.administered()).select_related("domain")
        )

    def _target_domain(self, name: str | None) -> Domain:
        if name is None:
            return self.home_domain()
        domain = self.administered().filter(name=name.strip().lower()).first()
        if domain is None:
            raise ValidationError({"domain": [f"You do not administer {name!r}."]})
        return domain

    @extend_schema(responses=EndpointOut(many=True))
    def list(self, request: Request) -> Response:
        """Your domain's endpoints, newest first."""
        return self.page(self.get_queryset(), EndpointOut)

    @extend_schema(request=EndpointIn, responses={201: EndpointCreatedOut})
    def create(self, request: Request) -> Response:
        """Register an endpoint; the answer carries its signing secret."""
        data = self.read(EndpointIn, request)
        domain = self._target_domain(data.pop("domain", None))
        with _filter_named_as_in_the_api(data):
            endpoint = callbacks.endpoint_create(domain=domain, actor=signed_in_user(request),
                                                 **data)
        out = {**EndpointOut(endpoint).data, "secret": endpoint.current_key().secret}
        return Response(out, status=status.HTTP_201_CREATED)

    @extend_schema(responses=EndpointOut)
    def retrieve(self, request: Request, endpoint_id: str) -> Response:
        return Response(EndpointOut(self.get_object()).data)

    @extend_schema(request=EndpointChangeIn, responses=EndpointOut)
    def partial_update(self, request: Request, endpoint_id: str) -> Response:
        """Change the URL, method, headers, event types or description."""
        endpoint = self.get_object()
        changes = self.read(EndpointChangeIn, request)
        with _filter_named_as_in_the_api(changes):
            endpoint = callbacks.endpoint_update(
                endpoint=endpoint, actor=signed_in_user(request), changes=changes
            )
        return Response(EndpointOut(endpoint).data)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, endpoint_id: str) -> Response:
        """Delete the endpoint; its pending deliveries are cancelled, its log kept."""
        callbacks.endpoint_delete(endpoint=self.get_object(), actor=signed_in_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=EndpointOut)
    @action(detail=True, methods=["post"])
    def enable(self, request: Request, endpoint_id: str) -> Response:
        """Enable the endpoint: new events are delivered to it again."""
        endpoint = callbacks.endpoint_enable(
            endpoint=self.get_object(), actor=signed_in_user(request)
        )
        return Response(EndpointOut(endpoint).data)

    @extend_schema(request=DisableIn, responses=EndpointOut)
    @action(detail=True, methods=["post"])
    def disable(self, request: Request, endpoint_id: str) -> Response:
        """Disable the endpoint; its pending deliveries are cancelled."""
        endpoint = self.get_object()
        reason = self.read(DisableIn, request).get("reason") or (
            f"Disabled over the API by {signed_in_user(request).email}."
        )
        callbacks.endpoint_disable(endpoint=endpoint, actor=signed_in_user(request), reason=reason)
        endpoint.refresh_from_db()
        return Response(EndpointOut(endpoint).data)

    @extend_schema(responses=HealthOut)
    @action(detail=True, methods=["get"])
    def health(self, request: Request, endpoint_id: str) -> Response:
        """The endpoint's last 24 hours, per hour and in total: attempts that succeeded and
        failed, deliveries that failed for good or were cancelled, circuit openings (the
        figure and chart of the domain page)."""
        endpoint = self.get_object()
        return Response(HealthOut(endpoint_health([endpoint])[endpoint.pk]).data)

    @extend_schema(request=None, responses=EndpointOut)
    @action(detail=True, methods=["post"])
    def probe(self, request: Request, endpoint_id: str) -> Response:
        """Send the open circuit's next probe now (nothing happens while it is closed)."""
        endpoint = self.get_object()
        callbacks.endpoint_probe_now(endpoint=endpoint, actor=signed_in_user(request))
        endpoint.refresh_from_db()
        return Response(EndpointOut(endpoint).data)

    @extend_schema(responses=SecretOut)
    @action(detail=True, methods=["get"])
    def secret(self, request: Request, endpoint_id: str) -> Response:
        """The current signing secret and the keys that sign now (each reveal is audited)."""
        endpoint = self.get_object()
        secret = callbacks.endpoint_reveal_secret(endpoint=endpoint, actor=signed_in_user(request))
        return Response(_secret_out(endpoint, secret))

    @extend_schema(request=RotateIn, responses={
        200: SecretOut,
        409: OpenApiResponse(Errors, "Refused, nothing changed: 3 keys sign already. The "
                             "message says when the oldest stops signing (rotate from then)."),
    })
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, endpoint_id: str) -> Response:
        """Issue a new key of the scheme (HMAC by default), the current one from now on;
        every older key of it still signing goes on signing for 24 hours at most. At most 3
        keys of a scheme sign at once."""
        endpoint = self.get_object()
        scheme = self.read(RotateIn, request).get("scheme", SigningScheme.HMAC)
        try:
            callbacks.endpoint_rotate_secret(endpoint=endpoint, actor=signed_in_user(request),
                                             scheme=scheme)
        except ValidationError as exc:
            raise Conflict(" ".join(exc.messages)) from None
        return Response(_secret_out(endpoint, endpoint.current_key().secret))

    @extend_schema(
        request=TestEventIn,
        parameters=[WAIT],
        responses={
            202: OpenApiResponse(DeliverySummaryOut, "Queued (or still on its way)."),
            200: OpenApiResponse(DeliverySummaryOut, "Finished while you waited."),
        },
    )
    @action(detail=True, methods=["post"])
    def test(self, request: Request, endpoint_id: str) -> Response:
        """Send the event type's example payload to this endpoint alone (no retries)."""
        endpoint = self.get_object()
        wait = self.flag(request, "wait")
        event_type = self.read(TestEventIn, request)["event_type"]
        delivery = callbacks.send_test_event(
            endpoint=endpoint, event_type=event_type, actor=signed_in_user(request)
        )
        if wait:
            _wait_for(delivery, settings.CALLBACK_TEST_WAIT_SECONDS)
        finished = delivery.state in FINISHED
        return Response(
            DeliverySummaryOut(delivery_summary(delivery)).data,
            status=status.HTTP_200_OK if finished else status.HTTP_202_ACCEPTED,
        )

    @extend_schema(
        request=ReplayIn,
        responses={
            202: OpenApiResponse(ReplayJobOut, "The replay job (follow it at /api/replays/{id})."),
            200: OpenApiResponse(ReplayCountOut, "dry_run: how many events it would send."),
        },
    )
    @action(detail=True, methods=["post"])
    def replay(self, request: Request, endpoint_id: str) -> Response:
        """Send again this endpoint's events of a time range (failed ones, or all)."""
        endpoint = self.get_object()
        data = self.read(ReplayIn, request)
        if data["since"] >= data["until"]:
            raise ValidationError({"until": ["Must be after since."]})
        span = {"start": data["since"], "end": data["until"], "include_all": data["include_all"]}
        if data["dry_run"]:
            count = callbacks.replay_count(endpoint=endpoint, **span)
            return Response(ReplayCountOut({"count": count}).data)
        job = callbacks.replay_start(endpoint=endpoint, actor=signed_in_user(request), **span)
        return Response(ReplayJobOut(job).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(tags=["endpoints"])
class ReplayJobViewSet(AdminViewSet):
    lookup_field = "job_id"
    serializer_class = ReplayJobOut
    not_found = "No replay with this id in your domain."

    def get_queryset(self):
        return ReplayJob.objects.filter(endpoint__domain__in=self.administered()).select_related(
            "endpoint"
        )

    @extend_schema(responses=ReplayJobOut)
    def retrieve(self, request: Request, job_id: str) -> Response:
        """A replay's progress: total, done, state."""
        return Response(ReplayJobOut(self.get_object()).data)


@extend_schema(tags=["events"])
class EventTypeViewSet(StrictQuery, viewsets.GenericViewSet):
    serializer_class = EventTypeOut
    pagination_class = None

    def get_queryset(self):
        return Event.objects.none()  # the catalog is code, not rows; the schema asks anyway

    @extend_schema(responses=EventTypeOut(many=True))
    def list(self, request: Request) -> Response:
        """The 11 event types an endpoint can subscribe to, with schemas and examples."""
        return Response(EventTypeOut(catalog.EVENT_TYPES, many=True).data)


@extend_schema(tags=["events"])
class EventViewSet(AdminViewSet):
    lookup_value_regex = UUID
    pagination_class = NewestFirst
    filterset_class = EventFilter
    serializer_class = EventOut
    not_found = "No event with this id in your domain."

    def get_queryset(self):
        return Event.objects.filter(domain__in=self.administered()).select_related("domain")

    @extend_schema(responses=EventOut(many=True))
    def list(self, request: Request) -> Response:
        """Your domain's events, newest first; filter by type and time."""
        return self.page(self.filter_queryset(self.get_queryset()).defer("body"), EventOut)

    @extend_schema(responses=EventDetailOut)
    def retrieve(self, request: Request, pk: str) -> Response:
        """One event: its payload as sent and its deliveries."""
        event = self.get_object()
        event.deliveries_list = event.deliveries.select_related("endpoint").order_by("created_at")
        return Response(EventDetailOut(event).data)


@extend_schema(tags=["deliveries"])
class DeliveryViewSet(AdminViewSet):
    lookup_value_regex = UUID
    pagination_class = NewestFirst
    filterset_class = DeliveryFilter
    serializer_class = DeliveryOut
    not_found = "No delivery with this id in your domain."

    def get_queryset(self):
        return Delivery.objects.filter(domain__in=self.administered()).select_related("endpoint")

    @extend_schema(responses=DeliveryOut(many=True))
    def list(self, request: Request) -> Response:
        """Your domain's deliveries, newest first; filter by endpoint, state, type, time."""
        return self.page(self.filter_queryset(self.get_queryset()), DeliveryOut)

    @extend_schema(responses=DeliveryDetailOut)
    def retrieve(self, request: Request, pk: str) -> Response:
        """One delivery with every attempt (request and answer)."""
        delivery = self.get_object()
        delivery.attempts_list = delivery.attempts.order_by("number")
        return Response(DeliveryDetailOut(delivery).data)

    @extend_schema(request=None, responses={
        200: DeliveryOut,
        422: OpenApiResponse(Errors, "Refused, nothing changed: only a pending delivery can be "
                                     "cancelled (this one is being sent, or has finished)."),
    })
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        """Stop a pending delivery (no more attempts); it can be resent or replayed later."""
        delivery = callbacks.delivery_cancel(
            delivery=self.get_object(), actor=signed_in_user(request)
        )
        return Response(DeliveryOut(delivery).data)

    @extend_schema(request=None, responses={
        202: DeliveryOut,
        422: OpenApiResponse(Errors, "Refused, nothing changed: the delivery is still being "
                                     "attempted, or its endpoint is disabled or deleted."),
    })
    @action(detail=True, methods=["post"])
    def resend(self, request: Request, pk: str) -> Response:
        """Send this delivery's event again to its endpoint, as a new delivery."""
        delivery = callbacks.delivery_resend(
            delivery=self.get_object(), actor=signed_in_user(request)
        )
        return Response(DeliveryOut(delivery).data, status=status.HTTP_202_ACCEPTED)


@require_GET
def jwks_document(request: HttpRequest, jwks_id: str) -> JsonResponse:
    """A domain's ed25519 public keys as a JWKS document (no token: public keys; the opaque
    id names no domain). 404 for an id that names no key set."""
    document = jwks(jwks_id)
    if document is None:
        return JsonResponse({"errors": {"detail": ["No such key set."]}}, status=404)
    answer = JsonResponse(document)
    answer["Cache-Control"] = "public, max-age=300"
    return answer
