"""Reads of callbacks data for other apps' pages (domains' views, the health check)."""

from __future__ import annotations

import datetime
import json
import re
import shlex
from dataclasses import dataclass, field

from celery import current_app
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Count, DateTimeField, ExpressionWrapper, F, Min, Q, QuerySet
from django.db.models.functions import TruncHour
from django.utils import timezone

from callbacks import catalog, liveness
from callbacks.endpoint_health import Health, day_until, endpoint_health
from callbacks.filters import compile_filter, matches
from callbacks.models import (
    Attempt,
    Delivery,
    DeliveryState,
    DomainKeySet,
    Endpoint,
    Event,
    Heartbeat,
    ReplayJob,
    SigningKey,
    SigningScheme,
)
from callbacks.signing import jwk, signature_header
from domains.formats import MASK, counted, mask_url
from domains.models import Domain


def heartbeat_status(interval: float, name: str = "sweeper") -> str:
    """Return "ok", "starting" (never seen) or "stale (N s ago)" for a periodic task."""
    beat = Heartbeat.objects.filter(name=name).first()
    if beat is None:
        return "starting"
    age = (timezone.now() - beat.at).total_seconds()
    return "ok" if age <= max(3 * interval, 30) else f"stale ({age:.0f} s ago)"


@dataclass
class Backlog:
    """What waits to be sent: the admin's backlog page and /metrics show it."""

    pending: int  # waiting, due or not (retries scheduled later included)
    due: int  # waiting and due now
    sending: int  # claimed by a worker
    oldest_due: datetime.datetime | None  # when the longest-waiting due one fell due
    heartbeat: datetime.datetime | None  # the sweeper's last run
    circuits_open: int = 0  # live endpoints whose circuit breaker is open
    workers: dict[str, int] = field(default_factory=dict)  # live worker processes per role
    # The busiest domains: (name, being sent, due now), most due first.
    domains: list[tuple[str, int, int]] = field(default_factory=list)


def backlog(now: datetime.datetime) -> Backlog:
    """Count the deliveries waiting and in flight at ``now`` (partial indexes)."""
    due = Delivery.objects.filter(state=DeliveryState.PENDING, next_attempt_at__lte=now)
    beat = Heartbeat.objects.filter(name="sweeper").first()
    return Backlog(
        pending=Delivery.objects.filter(state=DeliveryState.PENDING).count(),
        due=due.count(),
        sending=Delivery.objects.filter(state=DeliveryState.SENDING).count(),
        oldest_due=due.aggregate(oldest=Min("next_attempt_at"))["oldest"],
        heartbeat=beat.at if beat else None,
        circuits_open=Endpoint.objects.live().filter(circuit_opened_at__isnull=False).count(),
        workers=liveness.live(now),
        domains=domain_backlog(now),
    )


def domain_backlog(now: datetime.datetime, limit: int = 20) -> list[tuple[str, int, int]]:
    """Per domain with deliveries waiting or in flight: (name, being sent, due now), the
    ``limit`` with most due first (the fair shares between domains at work)."""
    rows = (Delivery.objects.filter(state__in=(DeliveryState.PENDING, DeliveryState.SENDING))
            .values("domain__name")
            .annotate(sending=Count("id", filter=Q(state=DeliveryState.SENDING)),
                      due=Count("id", filter=Q(state=DeliveryState.PENDING,
                                               next_attempt_at__lte=now)))
            .order_by("-due", "-sending", "domain__name")[:limit])
    return [(row["domain__name"], row["sending"], row["due"]) for row in rows]


def worker_status() -> dict[str, str]:
    """Per worker role: "ok (N alive)", or "none alive" when no worker of it heartbeated
    within the window (callbacks.liveness)."""
    return {role: f"ok ({count} alive)" if count else "none alive"
            for role, count in liveness.live().items()}


def broker_status() -> str:
    """Return "ok" when the Celery broker accepts a connection, else the error's name."""
    try:
        with current_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=0, timeout=2)
    except Exception as exc:  # the health check reports; it never raises
        return f"error: {exc.__class__.__name__}"
    return "ok"


@dataclass
class HourStat:
    """One hour of a filtered delivery log's chart: deliveries published that hour by how
    they ended, or that they are still being sent or retried."""

    hour: datetime.datetime
    delivered: int = 0
    gave_up: int = 0
    cancelled: int = 0
    retrying: int = 0

    @property
    def total(self) -> int:
        return self.delivered + self.gave_up + self.cancelled + self.retrying


@dataclass
class EndpointRow:
    """One line of a domain's endpoint table."""

    endpoint: Endpoint
    masked_url: str
    last_delivery: Delivery | None
    health: Health  # the last 24 hours (callbacks.endpoint_health)
    waiting: int = 0  # deliveries held back by an open circuit (counted only then)


def log_summary(rows: QuerySet[Delivery], until: datetime.datetime | None = None
                ) -> list[HourStat]:
    """The 24 hours up to ``until`` (default: now) of a filtered delivery log, per hour of
    publication: succeeded, failed, cancelled, and still being sent or retried."""
    hours = day_until(until)
    table = {hour: HourStat(hour) for hour in hours}
    counts = (rows.filter(created_at__gte=hours[0],
                          created_at__lt=hours[-1] + datetime.timedelta(hours=1))
              .annotate(created_hour=TruncHour("created_at")).order_by()
              .values_list("created_hour", "state").annotate(n=Count("id")))
    for hour, state, count in counts:
        stat = table.get(hour)
        if stat is None:
            continue
        if state == DeliveryState.SUCCEEDED:
            stat.delivered += count
        elif state == DeliveryState.FAILED:
            stat.gave_up += count
        elif state == DeliveryState.CANCELLED:
            stat.cancelled += count
        elif state in (DeliveryState.PENDING, DeliveryState.SENDING):
            stat.retrying += count
    return [table[hour] for hour in hours]


def waiting_behind_circuit(endpoint: Endpoint) -> int:
    """How many deliveries an open circuit holds back (0, uncounted, while it is closed)."""
    return pending_deliveries(endpoint) if endpoint.circuit_opened_at else 0


def endpoint_rows(domain: Domain) -> list[EndpointRow]:
    """The domain's live endpoints with their last delivery and their health over the last
    24 hours (one set of grouped queries for them all, not a scan of deliveries)."""
    endpoints = list(Endpoint.objects.live().filter(domain=domain).order_by("created_at"))
    health = endpoint_health(endpoints)
    rows = []
    for endpoint in endpoints:
        last = endpoint.deliveries.order_by("-created_at").first()
        rows.append(
            EndpointRow(
                endpoint,
                mask_url(endpoint.url),
                last,
                health[endpoint.pk],
                waiting_behind_circuit(endpoint),
            )
        )
    return rows


def replay_outcomes(job: ReplayJob) -> dict[str, int]:
    """How the deliveries a replay queued have ended so far, by state (every state named,
    0 when none): the endpoint's replay deliveries made from the job's start until the
    next replay of the endpoint began."""
    rows = Delivery.objects.filter(endpoint_id=job.endpoint_id, replay=True,
                                   created_at__gte=job.created_at)
    later = (ReplayJob.objects.filter(endpoint_id=job.endpoint_id, created_at__gt=job.created_at)
             .order_by("created_at").values_list("created_at", flat=True).first())
    if later is not None:
        rows = rows.filter(created_at__lt=later)
    counts = dict(rows.order_by().values_list("state").annotate(n=Count("id")))
    return {state: counts.get(state, 0) for state in DeliveryState.values}


def same_event_deliveries(delivery: Delivery) -> list[Delivery]:
    """The other deliveries of ``delivery``'s event to its endpoint (the first send, its
    resends and replays), oldest first."""
    same = Delivery.objects.filter(event_id=delivery.event_id, endpoint_id=delivery.endpoint_id)
    return list(same.exclude(pk=delivery.pk).order_by("created_at"))


def delivery_summary(delivery: Delivery) -> dict:
    """What a page polling a (test) delivery shows."""
    attempt = delivery.attempts.order_by("-number").first()
    return {
        "id": str(delivery.id),
        "state": delivery.state,
        "event_type": delivery.event_type,
        "status": attempt.response_status if attempt else None,
        "duration_ms": attempt.duration_ms if attempt else None,
        "error": attempt.error if attempt else "",
        "response_excerpt": attempt.response_body[:500] if attempt else "",
    }


def deliveries_for(
    domain: Domain,
    *,
    endpoint: Endpoint | None = None,
    state: str = "",
    event_type: str = "",
    since: datetime.datetime | None = None,
    until: datetime.datetime | None = None,
) -> QuerySet[Delivery]:
    """A domain's delivery log, newest first, filtered (indexes: domain or endpoint by time)."""
    rows = Delivery.objects.filter(domain=domain).select_related("endpoint")
    if endpoint is not None:
        rows = rows.filter(endpoint=endpoint)
    if state:
        rows = rows.filter(state=state)
    if event_type:
        rows = rows.filter(event_type=event_type)
    if since:
        rows = rows.filter(created_at__gte=since)
    if until:
        rows = rows.filter(created_at__lt=until)
    return rows.order_by("-created_at")


def delivery_detail(domain: Domain, delivery_id: str) -> Delivery | None:
    """One delivery of ``domain`` with its event and attempts, or None."""
    try:
        return (
            Delivery.objects.select_related("event", "endpoint")
            .prefetch_related("attempts")
            .get(pk=delivery_id, domain=domain)
        )
    except (Delivery.DoesNotExist, ValueError, ValidationError):
        return None


def pretty_body(delivery: Delivery) -> str:
    return json.dumps(json.loads(bytes(delivery.event.body)), indent=2, ensure_ascii=False)


def placeholder(name: str) -> str:
    """``$CAMIO_AUTHORIZATION`` for ``Authorization``: what copy-as-curl shows for secrets."""
    return "$CAMIO_" + re.sub(r"[^A-Za-z0-9]+", "_", name).upper()


@dataclass
class FreshSignature:
    """What signs a copied curl command anew: the event id (webhook-id), the endpoint's
    current secrets and the moment the command is shown."""

    event_id: str
    secrets: list[str]
    timestamp: int
    # (key id, whsk_ key) of each ed25519 key that signs now (v1a), newest first.
    ed25519: list[tuple[str, str]] = field(default_factory=list)


HOW_TO_SIGN = (
    "# Placeholders stand for secret values; \"Show real values\" gives a command signed\n"
    "# just now (valid for 5 minutes). To sign it yourself: webhook-timestamp is the Unix\n"
    "# time, and webhook-signature is v1,<base64 of HMAC-SHA256(key, \"<webhook-id>.\n"
    "# <webhook-timestamp>.<body>\")>, the key being the base64 after whsec_ in the\n"
    "# endpoint's signing secret."
)


def attempt_as_curl(
    attempt: Attempt, body: bytes | None, real_headers: dict[str, str] | None = None,
    signature: FreshSignature | None = None, endpoint_url: str | None = None,
) -> str:
    """Return a curl command repeating ``attempt``, one ``-H 'name: value'`` per line.

    Masked values become placeholders and the command says how to sign. Given the
    endpoint's stored ``real_headers`` (and its ``endpoint_url``, for a URL that was masked)
    and a ``signature``, it carries the real values and a ``webhook-timestamp`` and
    ``webhook-signature`` made now, so running it passes Standard Webhooks verification
    for five minutes."""
    real = {k.lower(): v for k, v in (real_headers or {}).items()}
    url = attempt.request_url
    if endpoint_url and signature is not None:
        # The attempt's URL is the masked endpoint URL (plus a GET's query): unmask it.
        masked = mask_url(endpoint_url)
        if url.startswith(masked):
            url = endpoint_url + url[len(masked):]
    # -X HEAD would make curl wait for a body that never comes: --head expects none.
    verb = "--head" if attempt.request_method == "HEAD" else f"-X {attempt.request_method}"
    lines = [f"curl {verb} {shlex.quote(url)}"]
    fresh: dict[str, str] = {}
    if signature is not None:
        fresh["webhook-timestamp"] = str(signature.timestamp)
        fresh["webhook-signature"] = signature_header(
            signature.secrets, signature.event_id, signature.timestamp, body or b"",
            [secret for _, secret in signature.ed25519])
        if signature.ed25519:
            fresh["webhook-key-id"] = " ".join(kid for kid, _ in signature.ed25519)
    for name, value in attempt.request_headers:
        if name.lower() in fresh:
            value = fresh[name.lower()]
        elif value == MASK:
            value = real.get(name.lower(), placeholder(name))
        if value.startswith("$CAMIO_"):
            lines.append(f'-H "{name}: {value}"')  # the shell fills the placeholder in
        else:
            lines.append(f"-H {shlex.quote(f'{name}: {value}')}")
    if body:
        lines.append(f"--data-binary {shlex.quote(body.decode())}")
    command = " \\\n  ".join(lines)
    return command if signature is not None else f"{HOW_TO_SIGN}\n{command}"


def pending_deliveries(endpoints: Endpoint | QuerySet[Endpoint]) -> int:
    """How many deliveries of an endpoint (or of several) wait for an attempt: what a
    disable or a delete would cancel."""
    scope = (
        {"endpoint": endpoints} if isinstance(endpoints, Endpoint) else {"endpoint__in": endpoints}
    )
    return Delivery.objects.filter(state=DeliveryState.PENDING, **scope).count()


def recently_deleted_endpoints(domain: Domain) -> QuerySet[Endpoint]:
    """The domain's endpoints deleted inside the undo window, newest first."""
    window = datetime.timedelta(hours=settings.UNDO_WINDOW_HOURS)
    return (
        Endpoint.objects.filter(domain=domain, deleted_at__gt=timezone.now() - window)
        .annotate(restorable_until=ExpressionWrapper(F("deleted_at") + window,
                                                     output_field=DateTimeField()))
        .order_by("-deleted_at")
    )


PREVIEW_EVENTS = 20


@dataclass
class FilterPreview:
    """One recent event and whether a payload filter lets it through."""

    event: Event
    passes: bool

    @property
    def summary(self) -> str:
        """The event's object in a line: its first named thing, else its type."""
        body = json.loads(bytes(self.event.body))
        obj = body.get("data", {}).get("object", {})
        for key in ("camera", "zone", "device", "hook", "incident"):
            if isinstance(obj.get(key), dict) and obj[key].get("name"):
                return f"{key} {obj[key]['name']}"
        if isinstance(obj.get("events"), list):
            return counted(len(obj["events"]), "access event")
        return self.event.type


def filter_preview(domain: Domain, event_types: list[str],
                   payload_filter: dict | None) -> list[FilterPreview]:
    """The domain's last PREVIEW_EVENTS real events of ``event_types``, newest first, each
    judged by ``payload_filter`` (checked) as publish would judge it."""
    path, variables = compile_filter(payload_filter)
    events = (Event.objects.filter(domain=domain, type__in=event_types, test=False)
              .order_by("-created_at", "-id"))
    if path:
        events = events.annotate(passes=matches(path, variables))
    return [FilterPreview(event, getattr(event, "passes", True))
            for event in events[:PREVIEW_EVENTS]]


def operational_listeners(domain: Domain) -> int:
    """How many of the domain's enabled endpoints receive any operational event."""
    return (Endpoint.objects.active().filter(domain=domain)
            .filter(event_types__has_any_keys=sorted(catalog.OPERATIONAL_NAMES)).count())


JWKS_PATH = "/.well-known/camio-webhooks/{jwks_id}/jwks.json"


def jwks(jwks_id: str) -> dict[str, list[dict[str, str]]] | None:
    """The JWKS document of a domain's key set: the public key of every ed25519 key that
    signs now or will (the current ones and those whose rotation overlap has not ended) of
    its live endpoints; None for an id that names no key set."""
    key_set = DomainKeySet.objects.filter(jwks_id=jwks_id).first()
    if key_set is None:
        return None
    keys = (SigningKey.objects.live().filter(scheme=SigningScheme.ED25519,
                                             endpoint__domain_id=key_set.domain_id,
                                             endpoint__deleted_at=None)
            .order_by("-created_at", "-id"))
    return {"keys": [jwk(key.key_id, key.secret) for key in keys]}


def jwks_url(endpoint: Endpoint) -> str | None:
    """Where the endpoint's domain publishes its ed25519 public keys (None: it has none)."""
    key_set = DomainKeySet.objects.filter(domain_id=endpoint.domain_id).first()
    if key_set is None:
        return None
    return settings.PORTAL_URL.rstrip("/") + JWKS_PATH.format(jwks_id=key_set.jwks_id)


def endpoint_ed25519(endpoint: Endpoint) -> list[tuple[str, str]]:
    """(key id, whsk_ key) of each ed25519 key that signs the endpoint's callbacks now,
    newest first (none when it does not sign with ed25519)."""
    if not endpoint.signs_with(SigningScheme.ED25519):
        return []
    return [(key.key_id, key.secret) for key in
            endpoint.signing_keys.live().filter(scheme=SigningScheme.ED25519)]
