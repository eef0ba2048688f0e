"""Endpoints, the outbox (Event, Delivery) and the attempt log."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable

from django.db import models
from django.utils import timezone

from callbacks.encrypted_fields import EncryptedJSONField, EncryptedTextField
from callbacks.signing import live_secrets
from domains.models import Domain, User, new_public_id


class Method(models.TextChoices):
    POST = "POST", "POST"
    PUT = "PUT", "PUT"
    PATCH = "PATCH", "PATCH"
    DELETE = "DELETE", "DELETE"
    GET = "GET", "GET"
    HEAD = "HEAD", "HEAD"
    OPTIONS = "OPTIONS", "OPTIONS"


BODYLESS_METHODS = frozenset({Method.GET, Method.HEAD})


class Ordering(models.TextChoices):
    NONE = "none", "None (fastest; callbacks may arrive in any order)"
    PER_KEY = "per_key", "Per key (one at a time per Box, hook owner or PACS integration)"


class Kind(models.TextChoices):
    WEBHOOK = "webhook", "Webhook (the signed JSON envelope)"
    CHAT = "chat", "Chat incoming webhook (Slack or Teams style: a short text message)"


class SigningScheme(models.TextChoices):
    HMAC = "hmac", "HMAC-SHA256 (Standard Webhooks v1)"
    ED25519 = "ed25519", "ed25519 (Standard Webhooks v1a)"


class Signing(models.TextChoices):
    """Which schemes sign an endpoint's callbacks."""

    HMAC = "hmac", "HMAC-SHA256 (v1, a shared whsec_ secret; the default)"
    ED25519 = "ed25519", "ed25519 (v1a, verified with a published public key)"
    BOTH = "both", "Both (while receivers move from one to the other)"

    @classmethod
    def schemes(cls, value: str) -> list[str]:
        """The SigningScheme values a Signing value signs with."""
        return {"hmac": ["hmac"], "ed25519": ["ed25519"], "both": ["hmac", "ed25519"]}[value]


# Keys of one scheme that a rotation replaced and that still sign beside the current one
# (each until its overlap ends): a rotation that would make one more is refused.
MAX_OVERLAPPING_KEYS = 3


# Deliveries per second an endpoint may be given at most (its ``rate_limit``).
RATE_LIMIT_MAX = 10_000
# Attempts an endpoint's own retry schedule may have at most (its ``retry_schedule``).
RETRY_ATTEMPTS_MAX = 20


class EndpointQuerySet(models.QuerySet["Endpoint"]):
    def live(self) -> EndpointQuerySet:
        """Endpoints not deleted (enabled or not)."""
        return self.filter(deleted_at=None)

    def active(self) -> EndpointQuerySet:
        return self.filter(deleted_at=None, enabled=True)


class Endpoint(models.Model):
    endpoint_id = models.CharField(
        max_length=32, unique=True, default=new_public_id, editable=False
    )
    domain = models.ForeignKey(Domain, on_delete=models.PROTECT, related_name="endpoints")
    method = models.CharField(max_length=7, choices=Method.choices, default=Method.POST)
    url = models.CharField("URL", max_length=2048)
    headers = EncryptedJSONField(default=dict, blank=True)
    event_types = models.JSONField(default=list)
    description = models.CharField(max_length=200, blank=True)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # Health, updated once per recorded batch (test events excluded).
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    # The circuit breaker (CALLBACK_BREAKER_*): consecutive failures that count (timeouts,
    # connection and TLS errors, 5xx without Retry-After); while open (``circuit_opened_at``
    # set) only one probe at a time is sent, at ``next_probe_at``, every ``probe_interval``
    # seconds (doubling up to the maximum); ``probe_delivery_id`` is the probe picked last.
    breaker_failures = models.PositiveIntegerField(default=0, db_default=0)
    circuit_opened_at = models.DateTimeField(null=True, blank=True)
    next_probe_at = models.DateTimeField(null=True, blank=True)
    probe_interval = models.FloatField(default=0, db_default=0)
    probe_delivery_id = models.UUIDField(null=True, blank=True)
    circuit_mailed_at = models.JSONField(default=dict, blank=True, db_default={})
    # A 429 or 503 with Retry-After pauses the whole endpoint until then (capped at
    # CALLBACK_RETRY_AFTER_MAX); it does not count toward the breaker.
    paused_until = models.DateTimeField(null=True, blank=True)
    # Delivery control: ``per_key`` sends one delivery per order key at a time, in commit
    # order, numbered per key (camio-order-sequence); ``rate_limit`` caps deliveries per
    # second across every worker (None: no limit).
    ordering = models.CharField(max_length=8, choices=Ordering.choices, default=Ordering.NONE,
                                db_default=Ordering.NONE)
    rate_limit = models.PositiveIntegerField(null=True, blank=True)
    # This endpoint's own retry policy (docs/callbacks.md, "Retry policy per endpoint"):
    # seconds before each attempt, and an attempt's total deadline; null: the deployment's
    # CALLBACK_RETRY_SCHEDULE and CALLBACK_TIMEOUT.
    retry_schedule = models.JSONField(null=True, blank=True)
    attempt_timeout = models.FloatField(null=True, blank=True)
    # A filter on the event's payload beside the event types (callbacks/filters.py): the
    # filter as given (null: none) and what publish evaluates, compiled from it.
    payload_filter = models.JSONField(null=True, blank=True)
    filter_path = models.TextField(blank=True, default="", db_default="")
    filter_vars = models.JSONField(null=True, blank=True)
    # A chat endpoint (Slack or Teams style) gets a short text message instead of the
    # envelope. Its URL is a bearer credential: ``chat_url`` holds it encrypted and ``url``
    # only its scheme and host, so no page, answer, log or audit entry can show it.
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.WEBHOOK,
                            db_default=Kind.WEBHOOK)
    signing = models.CharField(max_length=8, choices=Signing.choices, default=Signing.HMAC,
                               db_default=Signing.HMAC)
    # Mutual TLS (callbacks/tls.py): the client certificate (PEM, public) and its key
    # (encrypted, never shown again), and a CA bundle that verifies the receiver.
    client_certificate = models.TextField(blank=True, default="", db_default="")
    client_key = EncryptedTextField(null=True, blank=True)
    client_certificate_fingerprint = models.CharField(max_length=95, blank=True, default="",
                                                      db_default="")
    client_certificate_expires_at = models.DateTimeField(null=True, blank=True)
    client_certificate_warned_at = models.DateTimeField(null=True, blank=True)
    ca_bundle = models.TextField(blank=True, default="", db_default="")
    # OAuth2 client credentials (callbacks/delivery/oauth.py): a token fetched from
    # ``oauth_token_url`` is sent as "Authorization: Bearer"; the secret is encrypted.
    oauth_token_url = models.CharField(max_length=2048, blank=True, default="", db_default="")
    oauth_client_id = models.CharField(max_length=300, blank=True, default="", db_default="")
    oauth_client_secret = EncryptedTextField(null=True, blank=True)
    oauth_scope = models.CharField(max_length=500, blank=True, default="", db_default="")
    chat_url = EncryptedTextField(null=True, blank=True)  # null: not a chat endpoint
    # Operational events (callbacks/services/operational.py). ``health_state``: "" while it
    # is well, else what began the failing episode ("failures" or "circuit"), "~"-prefixed
    # once it ended, set by the recorder; ``health_told``: the episode last announced.
    # Deliveries that failed for good wait in ``exhausted_*`` for their digest.
    health_state = models.CharField(max_length=12, blank=True, default="", db_default="")
    health_told = models.CharField(max_length=12, blank=True, default="", db_default="")
    exhausted_count = models.PositiveIntegerField(default=0, db_default=0)
    exhausted_ids = models.JSONField(default=list, blank=True, db_default=[])
    exhausted_since = models.DateTimeField(null=True, blank=True)

    objects = EndpointQuerySet.as_manager()

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["domain", "deleted_at"], name="endpoint_domain_live")]

    def __str__(self) -> str:
        return f"{self.method} {self.url}"

    @property
    def circuit_state(self) -> str:
        """"closed", "open" (deliveries wait for the next probe) or "half-open" (a probe
        is out)."""
        if self.circuit_opened_at is None:
            return "closed"
        return "half-open" if self.probe_delivery_id else "open"

    def signing_secrets(self, now: datetime.datetime | None = None) -> list[str]:
        """Return the HMAC secrets that sign at ``now`` (default: now), newest first: the
        current key's and every older key's whose overlap has not ended. Reads prefetched
        ``signing_keys`` when they are there (one query for many endpoints)."""
        return live_secrets(self.hmac_keys(), now or timezone.now())

    def hmac_keys(self) -> list[tuple[str, datetime.datetime | None]]:
        """Return (secret, stops signing at) of each HMAC key, newest first."""
        return [(key.secret, key.expires_at) for key in self.signing_keys.all()
                if key.scheme == SigningScheme.HMAC]

    def signs_with(self, scheme: str) -> bool:
        return scheme in Signing.schemes(self.signing)

    def current_key(self, scheme: str = SigningScheme.HMAC) -> SigningKey:
        """Return the newest key of ``scheme``: the one a receiver should hold."""
        return self.signing_keys.get(scheme=scheme, expires_at=None)


class SigningKeyQuerySet(models.QuerySet["SigningKey"]):
    def live(self, now: datetime.datetime | None = None) -> SigningKeyQuerySet:
        """Keys that sign at ``now`` (default: now): the current ones and those whose
        overlap has not ended."""
        ends = now or timezone.now()
        return self.filter(models.Q(expires_at=None) | models.Q(expires_at__gt=ends))


class SigningKey(models.Model):
    """One secret an endpoint's callbacks are signed with. The newest key of a scheme is
    current (``expires_at`` None: it signs until the next rotation); a rotation gives every
    older key that still signs an end (``expires_at``), and each callback carries one
    signature per key that signs. Another scheme (ed25519) is another kind of row."""

    key_id = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="signing_keys")
    scheme = models.CharField(max_length=16, choices=SigningScheme.choices,
                              default=SigningScheme.HMAC)
    secret = EncryptedTextField()
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField("stops signing at", null=True, blank=True)

    objects = SigningKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "scheme"],
                                    condition=models.Q(expires_at=None),
                                    name="one_current_key_per_scheme")
        ]

    def __str__(self) -> str:
        ends = "current" if self.expires_at is None else f"until {self.expires_at:%Y-%m-%d %H:%M}"
        return f"{self.scheme} key {self.key_id} ({ends})"


class DomainKeySet(models.Model):
    """Where a domain's ed25519 public keys are published: a JWKS document at
    /.well-known/camio-webhooks/<jwks_id>/jwks.json, an opaque id that names no domain and
    cannot be guessed from another."""

    domain = models.OneToOneField(Domain, on_delete=models.CASCADE, related_name="key_set")
    jwks_id = models.CharField(max_length=32, unique=True, default=new_public_id,
                               editable=False)

    def __str__(self) -> str:
        return f"public keys of {self.domain}"


def rotation_allowed_from(keys: Iterable[SigningKey]) -> datetime.datetime | None:
    """When the next rotation is allowed, given the keys of a scheme that sign now: None
    when it is allowed at once, else when the oldest replaced key stops signing."""
    ends = sorted(key.expires_at for key in keys if key.expires_at is not None)
    return ends[0] if len(ends) >= MAX_OVERLAPPING_KEYS else None



class Event(models.Model):
    """One immutable envelope; its id is the webhook-id of every delivery."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=64)
    body = models.BinaryField()
    created_at = models.DateTimeField(default=timezone.now)
    test = models.BooleanField(default=False)
    # What the event is ordered by on a ``per_key`` endpoint ("box:<device_id>", ...),
    # given by its producer; empty for test events.
    order_key = models.CharField(max_length=100, blank=True, default="", db_default="")
    # The request (or task) that caused the event, and its W3C trace context: every attempt,
    # resend and replay logs and sends them (callbacks/tracing.py).
    request_id = models.CharField(max_length=128, blank=True, default="", db_default="")
    traceparent = models.CharField(max_length=55, blank=True, default="", db_default="")
    tracestate = models.CharField(max_length=512, blank=True, default="", db_default="")

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["domain", "-created_at"], name="event_domain_time"),
            models.Index(fields=["created_at"], name="event_time"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class DeliveryState(models.TextChoices):
    PENDING = "pending"
    SENDING = "sending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED_STATES = (DeliveryState.SUCCEEDED, DeliveryState.FAILED, DeliveryState.CANCELLED)


class Delivery(models.Model):
    """One event to one endpoint: pending until it succeeds, fails or is cancelled."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    # Not indexed alone: the (endpoint, time) and (domain, time) indexes below serve both.
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries",
                                 db_index=False)
    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="+",
                               db_index=False)
    event_type = models.CharField(max_length=64)
    state = models.CharField(
        max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    test = models.BooleanField(default=False)
    replay = models.BooleanField(default=False)
    attempt_count = models.PositiveSmallIntegerField(default=0)
    # Attempts that used no slot of the retry schedule: outcome unknown (a worker stopped
    # while sending) and failed probes of an open circuit. Numbered like the others.
    off_schedule_attempts = models.PositiveSmallIntegerField(default=0, db_default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claim_token = models.UUIDField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Set on a ``per_key`` endpoint: the event's order key and its number in that key's
    # sequence for this endpoint (1, 2, 3, ...). A delivery waits while an earlier one of
    # its key is pending or being sent.
    order_key = models.CharField(max_length=100, null=True, blank=True)
    sequence = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "deliveries"
        # Few, and partial where the engine looks (each index is written on every insert and
        # on every state change it covers): due unkeyed deliveries by endpoint (the claim
        # and the workers' scan), those being sent by endpoint (the in-flight cap) and
        # lease, the heads of keys, and the pages' lists.
        indexes = [
            models.Index(
                fields=["endpoint", "next_attempt_at"], name="delivery_pending",
                condition=models.Q(state="pending", order_key__isnull=True),
            ),
            models.Index(
                fields=["endpoint", "lease_expires_at"],
                name="delivery_sending",
                condition=models.Q(state="sending"),
            ),
            models.Index(fields=["endpoint", "-created_at"], name="delivery_endpoint_time"),
            models.Index(fields=["domain", "-created_at"], name="delivery_domain_time"),
            models.Index(
                fields=["endpoint", "order_key", "sequence"],
                name="delivery_order",
                condition=models.Q(state__in=["pending", "sending"], sequence__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint_id} ({self.state})"


class OrderCounter(models.Model):
    """The last sequence number given per endpoint and order key. Kept apart from the
    events so it outlives their retention; its row lock orders concurrent publishers."""

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=100)
    last = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "key"], name="one_counter_per_key")
        ]

    def __str__(self) -> str:
        return f"{self.endpoint_id} {self.key}: {self.last}"


class EndpointSlot(models.Model):
    """Shared state of an endpoint's rate limit: when its next delivery may start. Its
    own row, so claimers never wait for the recorder's endpoint updates."""

    endpoint = models.OneToOneField(Endpoint, on_delete=models.CASCADE, primary_key=True,
                                    related_name="+")
    next_start_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.endpoint_id} next at {self.next_start_at}"


class Attempt(models.Model):
    """One HTTP request for a delivery and what came back."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveSmallIntegerField()
    due_at = models.DateTimeField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    request_method = models.CharField(max_length=7)
    request_url = models.CharField(max_length=2048)
    request_headers = models.JSONField(default=list)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_headers = models.JSONField(default=list, blank=True)
    response_body = models.TextField(blank=True)
    error = models.CharField(max_length=500, blank=True)
    configuration_error = models.BooleanField(default=False)
    succeeded = models.BooleanField(default=False)
    # The worker stopped while sending (its lease expired): the receiver may have got
    # the request. Counted in no health figure, rollup, breaker or metric.
    outcome_unknown = models.BooleanField(default=False, db_default=False)
    # Sent as the probe of an open circuit (it moved its delivery along no schedule).
    probe = models.BooleanField(default=False, db_default=False)

    class Meta:
        ordering = ["delivery", "number"]
        indexes = [models.Index(fields=["delivery", "number"], name="attempt_delivery")]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}"


class EndpointHourlyStat(models.Model):
    """Per-endpoint, per-hour counts: finished attempts by the hour they finished in
    (``succeeded``/``failed``), and deliveries by the hour they were created in and how
    they ended (``delivered``/``gave_up``: succeeded, or failed for good). Test events
    are not counted."""

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="hourly")
    hour = models.DateTimeField()
    succeeded = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    delivered = models.PositiveIntegerField(default=0, db_default=0)
    gave_up = models.PositiveIntegerField(default=0, db_default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "hour"], name="one_stat_per_endpoint_hour")
        ]

    def __str__(self) -> str:
        return f"{self.endpoint_id} {self.hour:%Y-%m-%d %H:00}: {self.succeeded}/{self.failed}"


# Upper bounds (ms) of the attempt-latency buckets; the last bucket holds the rest.
LATENCY_BOUNDS_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000)


class EndpointLatencyStat(models.Model):
    """Per-endpoint, per-hour attempt latencies as a histogram (``LATENCY_BOUNDS_MS``):
    how many finished attempts took at most bucket ``bucket``'s bound."""

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField()
    bucket = models.PositiveSmallIntegerField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "hour", "bucket"],
                                    name="one_latency_bucket_per_endpoint_hour")
        ]

    def __str__(self) -> str:
        return f"{self.endpoint_id} {self.hour:%Y-%m-%d %H:00} bucket {self.bucket}: {self.count}"


class ReplayJob(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    job_id = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="replays")
    start = models.DateTimeField()
    end = models.DateTimeField()
    include_all = models.BooleanField(default=False)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"replay {self.job_id} ({self.done}/{self.total})"


class OAuthToken(models.Model):
    """An endpoint's current OAuth2 access token, shared by every worker: whoever finds it
    due for refresh locks this row, asks the token server once and stores the answer."""

    endpoint = models.OneToOneField(Endpoint, on_delete=models.CASCADE,
                                    related_name="oauth_token")
    token = EncryptedTextField(null=True, blank=True)
    fetched_at = models.DateTimeField(null=True, blank=True)
    refresh_at = models.DateTimeField(null=True, blank=True)  # at 75 % of expires_in
    requests = models.PositiveIntegerField(default=0)  # token requests made, ever

    def __str__(self) -> str:
        return f"OAuth2 token of endpoint {self.endpoint_id}"


class Heartbeat(models.Model):
    """When a periodic task (the sweeper) last ran."""

    name = models.CharField(max_length=40, primary_key=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.at:%Y-%m-%d %H:%M:%S}"


class Worker(models.Model):
    """A running Celery worker process and when it last said it was alive (each
    ``CALLBACK_WORKER_HEARTBEAT`` seconds). A delivery worker stamps the deliveries it
    claims with its ``id`` (``Delivery.claim_token``): when its heartbeat stops, the
    others take those claims back (callbacks.liveness, callbacks.delivery.sweeper)."""

    id = models.UUIDField(primary_key=True)
    roles = models.CharField(max_length=100)  # "deliveries", "other" or both, comma-joined
    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.roles} worker {self.hostname} (pid {self.pid})"
