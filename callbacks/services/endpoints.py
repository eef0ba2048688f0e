"""Endpoints: create, change, enable, disable, soft-delete, rotate and reveal secrets."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from callbacks import chat
from callbacks.delivery.outbox import wake
from callbacks.delivery.recording import release_waiting
from callbacks.delivery.sweeper import pick_probes
from callbacks.filters import compile_filter
from callbacks.models import (
    MAX_OVERLAPPING_KEYS,
    Delivery,
    DeliveryState,
    DomainKeySet,
    Endpoint,
    Kind,
    OAuthToken,
    Ordering,
    Signing,
    SigningKey,
    SigningScheme,
    rotation_allowed_from,
)
from callbacks.publishing import order_pending, unorder_pending
from callbacks.services.operational import announce_disabled
from callbacks.signing import new_ed25519_secret, new_secret
from callbacks.tls import clean_ca_bundle, clean_client_certificate
from callbacks.validation import clean_url, endpoint_fields_clean
from domains.formats import MASK, mask_url
from domains.models import AuditEntry, Domain, DomainAdministrator, User, audit_value, relock

EDITABLE = ("url", "method", "headers", "event_types", "description", "ordering", "rate_limit",
            "retry_schedule", "attempt_timeout", "payload_filter", "signing",
            "client_certificate", "client_key", "ca_bundle", "oauth_token_url",
            "oauth_client_id", "oauth_client_secret", "oauth_scope")
OAUTH = ("oauth_token_url", "oauth_client_id", "oauth_client_secret", "oauth_scope")
# What the audit log says of the client certificate: never the key.
TLS_AUDITED = ("client_certificate_fingerprint", "client_certificate_expires_at", "ca_bundle")


def _view(endpoint: Endpoint, fields: tuple[str, ...] = EDITABLE) -> dict[str, Any]:
    """Return an endpoint's fields for the audit log, secrets masked."""
    values = {name: getattr(endpoint, name) for name in fields if name != "client_key"}
    if "client_certificate" in values:  # named by fingerprint and end; the key never
        del values["client_certificate"]
        values.update({name: getattr(endpoint, name) for name in TLS_AUDITED})
    if "url" in values:
        values["url"] = mask_url(values["url"])
    for secret in ("chat_url", "oauth_client_secret"):  # the audit log says it changed
        if values.get(secret):
            values[secret] = MASK
    return audit_value(values)


def _audit(endpoint: Endpoint, actor: User | None, action: str, **extra: Any) -> None:
    """Record an endpoint change (every service here calls this once per change)."""
    AuditEntry.objects.record(
        actor=actor, action=action, obj=endpoint, object_id=endpoint.endpoint_id, **extra
    )


@transaction.atomic
def endpoint_create(
    *,
    domain: Domain,
    url: str,
    event_types: list[str],
    method: str = "POST",
    headers: dict[str, str] | None = None,
    description: str = "",
    ordering: str = Ordering.NONE,
    rate_limit: int | None = None,
    retry_schedule: list[float] | str | None = None,
    attempt_timeout: float | str | None = None,
    payload_filter: dict[str, Any] | str | None = None,
    kind: str = Kind.WEBHOOK,
    signing: str = Signing.HMAC,
    client_certificate: str = "",
    client_key: str = "",
    ca_bundle: str = "",
    oauth_token_url: str = "",
    oauth_client_id: str = "",
    oauth_client_secret: str = "",
    oauth_scope: str = "",
    actor: User | None,
) -> Endpoint:
    """Register a callback endpoint for ``domain`` with a fresh signing secret; a ``chat``
    one (callbacks/chat.py) keeps its URL encrypted and shows only its scheme and host."""
    if kind not in Kind.values:
        raise ValidationError({"kind": [f"{kind!r} is not a kind; use one of "
                                        f"{', '.join(Kind.values)}."]})
    data = endpoint_fields_clean(
        {"url": url, "method": method, "headers": headers or {}, "event_types": event_types,
         "ordering": ordering, "rate_limit": rate_limit, "retry_schedule": retry_schedule,
         "attempt_timeout": attempt_timeout, "payload_filter": payload_filter,
         "signing": signing}
    )
    data["filter_path"], data["filter_vars"] = compile_filter(data["payload_filter"])
    data.update(_tls_fields({"client_certificate": client_certificate,
                             "client_key": client_key, "ca_bundle": ca_bundle}, None))
    data.update(_oauth_fields({"oauth_token_url": oauth_token_url,
                               "oauth_client_id": oauth_client_id,
                               "oauth_client_secret": oauth_client_secret,
                               "oauth_scope": oauth_scope}, None))
    if kind == Kind.CHAT:
        data.update(kind=kind, method="POST", chat_url=data["url"], url=chat.shown_url(data["url"]))
    endpoint = Endpoint.objects.create(
        domain=domain,
        description=description[:200],
        created_by=actor if actor and actor.pk else None,
        **data,
    )
    SigningKey.objects.create(endpoint=endpoint, secret=new_secret(),
                              created_at=endpoint.created_at)
    _ensure_keys(endpoint)
    _audit(endpoint, actor, "endpoint.created", after=_view(endpoint))
    return endpoint


NEW_SECRET: dict[str, Callable[[], str]] = {SigningScheme.HMAC: new_secret,
                                            SigningScheme.ED25519: new_ed25519_secret}


def _ensure_keys(endpoint: Endpoint) -> None:
    """Give the endpoint a current key of each scheme it signs with that it lacks; an
    ed25519 one publishes its domain's key set (the JWKS document)."""
    schemes = Signing.schemes(endpoint.signing)
    for scheme in schemes:
        if not endpoint.signing_keys.filter(scheme=scheme, expires_at=None).exists():
            SigningKey.objects.create(endpoint=endpoint, scheme=scheme,
                                      secret=NEW_SECRET[scheme](), created_at=timezone.now())
    if SigningScheme.ED25519 in schemes:
        DomainKeySet.objects.get_or_create(domain_id=endpoint.domain_id)


def _tls_fields(given: dict[str, Any], endpoint: Endpoint | None) -> dict[str, Any]:
    """The TLS columns for what was given of client_certificate, client_key and ca_bundle:
    a certificate and key checked as a pair (both empty: none); the certificate given back
    unchanged without a key keeps the stored key. Raises ValidationError naming the field."""
    fields: dict[str, Any] = {}
    if "ca_bundle" in given:
        try:
            fields["ca_bundle"] = clean_ca_bundle(given["ca_bundle"] or "")
        except ValidationError as exc:
            raise ValidationError({"ca_bundle": exc.messages}) from None
    if "client_certificate" not in given and "client_key" not in given:
        return fields
    certificate = (given.get("client_certificate") or "").strip()
    key = (given.get("client_key") or "").strip()
    if endpoint is not None and not key and certificate == endpoint.client_certificate.strip():
        return fields  # shown again, unchanged: the stored key stays
    if not certificate and not key:
        return {**fields, "client_certificate": "", "client_key": None,
                "client_certificate_fingerprint": "", "client_certificate_expires_at": None,
                "client_certificate_warned_at": None}
    try:
        checked = clean_client_certificate(certificate, key)
    except ValidationError as exc:
        raise ValidationError({"client_certificate": exc.messages}) from None
    return {**fields, "client_certificate": checked.certificate, "client_key": checked.key,
            "client_certificate_fingerprint": checked.fingerprint,
            "client_certificate_expires_at": checked.expires_at,
            "client_certificate_warned_at": None}


def _oauth_fields(given: dict[str, Any], endpoint: Endpoint | None) -> dict[str, Any]:
    """The OAuth2 columns for what was given of them: a token URL (the guard's rules), a
    client id and a secret (given back masked or empty: the stored one); no token URL:
    none. Raises ValidationError naming the field."""
    if not any(name in given for name in OAUTH):
        return {}

    def value(name: str) -> str:
        stored = getattr(endpoint, name, "") if endpoint is not None else ""
        return str(given[name] if name in given and given[name] is not None else stored or "")

    url, client_id, scope = (value(n).strip() for n in
                             ("oauth_token_url", "oauth_client_id", "oauth_scope"))
    secret = value("oauth_client_secret")
    if secret in ("", MASK) and endpoint is not None:
        secret = endpoint.oauth_client_secret or ""
    if not url:
        if client_id or (given.get("oauth_client_secret") or "") not in ("", MASK):
            raise ValidationError({"oauth_token_url": ["Give the token URL the client "
                                                       "credentials are for."]})
        return {"oauth_token_url": "", "oauth_client_id": "", "oauth_client_secret": None,
                "oauth_scope": ""}
    errors = {}
    try:
        url = clean_url(url)
    except ValidationError as exc:
        errors["oauth_token_url"] = exc.messages
    if not client_id:
        errors["oauth_client_id"] = ["Give the client id (with a token URL)."]
    if not secret:
        errors["oauth_client_secret"] = ["Give the client secret (with a token URL)."]
    if errors:
        raise ValidationError(errors)
    return {"oauth_token_url": url, "oauth_client_id": client_id[:300],
            "oauth_client_secret": secret, "oauth_scope": scope[:500]}


def keep_masked_headers(old: dict[str, str], new: dict[str, str]) -> dict[str, str]:
    """Keep the stored value of every header sent back masked (unchanged by the user)."""
    lowered = {k.lower(): v for k, v in old.items()}
    return {k: lowered.get(k.lower(), v) if v == MASK else v for k, v in new.items()}


@transaction.atomic
def endpoint_update(
    *, endpoint: Endpoint, actor: User | None, changes: Mapping[str, Any]
) -> Endpoint:
    """Change an endpoint's URL, method, headers, event types, description, ordering, rate
    limit, retry schedule, attempt timeout or payload filter. Switching to ``per_key`` orders
    its pending deliveries by commit (they take sequence numbers); switching back releases
    them."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationError({name: ["This field cannot be changed."] for name in unknown})
    endpoint = relock(Endpoint.objects.all(), endpoint.pk)
    changes = dict(changes)
    tls = _tls_fields({name: changes.pop(name) for name in
                       ("client_certificate", "client_key", "ca_bundle") if name in changes},
                      endpoint)
    tls.update(_oauth_fields({name: changes.pop(name) for name in OAUTH if name in changes},
                             endpoint))
    if "headers" in changes and isinstance(changes["headers"], dict):
        changes["headers"] = keep_masked_headers(endpoint.headers or {}, changes["headers"])
    if endpoint.kind == Kind.CHAT:  # its URL is shown masked: sent back as shown, unchanged
        if changes.get("url") == endpoint.url:
            del changes["url"]
        changes.pop("method", None)
    cleaned = {**endpoint_fields_clean(changes), **tls}
    if endpoint.kind == Kind.CHAT and "url" in cleaned:
        cleaned["chat_url"], cleaned["url"] = cleaned["url"], chat.shown_url(cleaned["url"])
    changed = {k: v for k, v in cleaned.items() if getattr(endpoint, k) != v}
    if not changed:
        return endpoint
    before = _view(endpoint, tuple(changed))
    for name, value in changed.items():
        setattr(endpoint, name, value)
    endpoint.updated_at = timezone.now()
    reset = _close_circuit(endpoint) if "url" in changed else []
    if "payload_filter" in changed:  # what publish evaluates from now on; nothing queued changes
        endpoint.filter_path, endpoint.filter_vars = compile_filter(endpoint.payload_filter)
        reset += ["filter_path", "filter_vars"]
    endpoint.save(update_fields=[*changed, *reset, "updated_at"])
    if "signing" in changed:
        _ensure_keys(endpoint)
    if set(changed) & set(OAUTH):  # new credentials: the next delivery asks for a token
        OAuthToken.objects.filter(endpoint=endpoint).delete()
    if "ordering" in changed:
        pairs = (order_pending(endpoint.pk) if endpoint.ordering == Ordering.PER_KEY
                 else unorder_pending(endpoint.pk))
        wake(pairs)
    _audit(
        endpoint, actor, "endpoint.updated", before=before, after=_view(endpoint, tuple(changed))
    )
    return endpoint


CIRCUIT_FIELDS = ("breaker_failures", "circuit_opened_at", "next_probe_at", "probe_interval",
                  "probe_delivery_id")


def _close_circuit(endpoint: Endpoint) -> list[str]:
    """Reset the breaker (a new URL, or enabled again); waiting deliveries are due at once.
    Returns the fields to save."""
    was_open = endpoint.circuit_opened_at is not None
    endpoint.breaker_failures, endpoint.circuit_opened_at = 0, None
    endpoint.next_probe_at, endpoint.probe_interval, endpoint.probe_delivery_id = None, 0, None
    if was_open:
        release_waiting(endpoint.pk, timezone.now())
        wake([endpoint.pk])
    return list(CIRCUIT_FIELDS)


@transaction.atomic
def endpoint_probe_now(*, endpoint: Endpoint, actor: User | None) -> bool:
    """Send the open circuit's next probe at once; False when the circuit is closed or
    nothing is waiting."""
    endpoint = relock(Endpoint.objects.all(), endpoint.pk)
    if endpoint.circuit_opened_at is None:
        return False
    picked = pick_probes(timezone.now(), endpoint_ids=[endpoint.pk])
    _audit(endpoint, actor, "endpoint.probed")
    wake(picked)
    return bool(picked)


def circuit_notify(*, endpoint_id: int, state: str) -> bool:
    """E-mail the domain's admins that the endpoint's circuit opened or closed: at most
    one of each per endpoint per hour. Returns whether a mail was sent."""
    now = timezone.now()
    with transaction.atomic():
        endpoint = (Endpoint.objects.select_for_update().select_related("domain")
                    .filter(pk=endpoint_id).first())
        if endpoint is None:
            return False
        last = (endpoint.circuit_mailed_at or {}).get(state)
        if last and now - datetime.datetime.fromisoformat(last) < datetime.timedelta(hours=1):
            return False
        endpoint.circuit_mailed_at = {**(endpoint.circuit_mailed_at or {}),
                                      state: now.isoformat()}
        endpoint.save(update_fields=["circuit_mailed_at"])
        emails = list(DomainAdministrator.objects.filter(domain=endpoint.domain)
                      .values_list("user__email", flat=True))
    if not emails:
        return False
    where = f"{endpoint.method} {mask_url(endpoint.url)}"
    if state == "opened":
        subject = f"Callbacks paused for {endpoint.domain.name}: the endpoint is failing"
        body = (
            f"The callback endpoint {where} of {endpoint.domain.name} failed "
            f"{settings.CALLBACK_BREAKER_FAILURES} times in a row (timeouts, connection "
            "errors or 5xx answers), so its circuit is open: deliveries wait, without using "
            "their retries, while one probe at a time checks whether it is back.\n\n"
            f"Nothing is lost. See it at {settings.PORTAL_URL}/domains?domain="
            f"{endpoint.domain.name}\n"
        )
    else:
        subject = f"Callbacks resumed for {endpoint.domain.name}"
        body = (
            f"The callback endpoint {where} of {endpoint.domain.name} answered again: its "
            "circuit is closed and the deliveries that waited are being sent, oldest first.\n"
        )
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, emails, fail_silently=True)
    return True


def _cancel_pending(endpoint: Endpoint, reason: str) -> int:
    return Delivery.objects.filter(endpoint=endpoint, state=DeliveryState.PENDING).update(
        state=DeliveryState.CANCELLED, last_error=reason[:500], finished_at=timezone.now()
    )


def _tell_admins(endpoint: Endpoint, reason: str, cancelled: int) -> None:
    emails = list(
        DomainAdministrator.objects.filter(domain=endpoint.domain).values_list(
            "user__email", flat=True
        )
    )
    if not emails:
        return
    subject = f"Callback endpoint disabled for {endpoint.domain.name}"
    what = (f"{cancelled} pending deliver{'y was' if cancelled == 1 else 'ies were'} cancelled"
            if cancelled else "No delivery was pending")
    body = (
        f"The callback endpoint {endpoint.method} {mask_url(endpoint.url)} of "
        f"{endpoint.domain.name} was disabled.\n\nReason: {reason}\n\n"
        f"{what}; after enabling it again you can replay what it missed:\n"
        f"{settings.PORTAL_URL}/domains?domain={endpoint.domain.name}\n"
    )
    transaction.on_commit(
        lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, emails, fail_silently=True)
    )


@transaction.atomic
def endpoint_disable(*, endpoint: Endpoint, actor: User | None, reason: str,
                     cause: str = "person") -> int:
    """Disable an endpoint, cancel its pending deliveries, tell the domain's admins and
    publish ``endpoint.disabled`` (``cause``: "gone", "exhausted" or "person").

    Returns the number of deliveries cancelled.
    """
    endpoint = relock(Endpoint.objects.all(), endpoint.pk)
    if not endpoint.enabled:
        return 0
    who = f" by {actor.email}" if actor and actor.pk else ""
    reason = reason.strip() or f"Disabled{who}."
    endpoint.enabled, endpoint.disabled_reason = False, reason[:300]
    endpoint.disabled_at = endpoint.updated_at = timezone.now()
    endpoint.save(update_fields=["enabled", "disabled_reason", "disabled_at", "updated_at"])
    cancelled = _cancel_pending(endpoint, f"Cancelled: endpoint disabled ({reason})")
    _audit(endpoint, actor, "endpoint.disabled", after={"reason": reason, "cancelled": cancelled})
    _tell_admins(endpoint, reason, cancelled)
    announce_disabled(endpoint, reason=cause, detail=reason, cancelled=cancelled,
                      by=actor.email if actor and actor.pk else None)
    return cancelled


@transaction.atomic
def endpoint_enable(*, endpoint: Endpoint, actor: User | None) -> Endpoint:
    """Enable a disabled endpoint; its health starts afresh."""
    endpoint = relock(Endpoint.objects.all(), endpoint.pk)
    if endpoint.deleted_at is not None:
        raise ValidationError({"endpoint": ["A deleted endpoint cannot be enabled."]})
    if endpoint.enabled:
        return endpoint
    endpoint.enabled, endpoint.disabled_reason, endpoint.disabled_at = True, "", None
    endpoint.failing_since, endpoint.consecutive_failures = None, 0
    endpoint.health_state = endpoint.health_told = ""  # a new start, not a recovery
    endpoint.updated_at = timezone.now()
    reset = _close_circuit(endpoint)
    endpoint.save(
        update_fields=[
            "enabled",
            "disabled_reason",
            "disabled_at",
            "failing_since",
            "consecutive_failures",
            "health_state",
            "health_told",
            *reset,
            "updated_at",
        ]
    )
    _audit(endpoint, actor, "endpoint.enabled")
    return endpoint


@transaction.atomic
def endpoint_delete(*, endpoint: Endpoint, actor: User | None) -> None:
    """Soft-delete an endpoint: it stops receiving, its log stays."""
    endpoint = relock(Endpoint.objects.all(), endpoint.pk)
    if endpoint.deleted_at is not None:
        return
    endpoint.deleted_at = endpoint.updated_at = timezone.now()
    endpoint.enabled = False
    endpoint.save(update_fields=["deleted_at", "enabled", "updated_at"])
    cancelled = _cancel_pending(endpoint, "Cancelled: endpoint deleted")
    _audit(
        endpoint, actor, "endpoint.deleted", before=_view(endpoint), after={"cancelled": cancelled}
    )


@transaction.atomic
def endpoint_restore(*, endpoint: Endpoint, actor: User | None) -> Endpoint:
    """Undo a delete inside UNDO_WINDOW_HOURS: the endpoint receives new events again, enabled
    unless it had been disabled before; deliveries cancelled by the delete stay cancelled
    (resend or replay them)."""
    endpoint = relock(Endpoint.objects.all(), endpoint.pk)
    if endpoint.deleted_at is None:
        return endpoint
    if endpoint.deleted_at + datetime.timedelta(hours=settings.UNDO_WINDOW_HOURS) <= timezone.now():
        raise ValidationError({"endpoint": ["Its undo window has ended; it stays deleted."]})
    endpoint.deleted_at = None
    endpoint.enabled = endpoint.disabled_at is None
    endpoint.updated_at = timezone.now()
    endpoint.save(update_fields=["deleted_at", "enabled", "updated_at"])
    _audit(endpoint, actor, "endpoint.restored", after=_view(endpoint))
    return endpoint


@transaction.atomic
def endpoint_rotate_secret(*, endpoint: Endpoint, actor: User | None,
                           scheme: str = SigningScheme.HMAC) -> Endpoint:
    """Issue a new signing key of ``scheme``, the current one from now on; every older key
    of it that still signs goes on signing beside it for ``CALLBACK_SECRET_OVERLAP_HOURS`` at
    most (never longer than it already would).

    At most ``MAX_OVERLAPPING_KEYS`` replaced keys sign beside the current one: a rotation
    that would make one more is refused, saying when it will be allowed. Keys that stopped
    signing are deleted."""
    endpoint = relock(Endpoint.objects.all(), endpoint.pk)
    now = timezone.now()
    if scheme not in SigningScheme.values:
        raise ValidationError({"scheme": [f"{scheme!r} is not a signing scheme; use one of "
                                          f"{', '.join(SigningScheme.values)}."]})
    keys = endpoint.signing_keys.filter(scheme=scheme)
    allowed_from = rotation_allowed_from(keys.live(now).only("expires_at"))  # none decrypted
    if allowed_from is not None:
        raise ValidationError(_too_many_keys(allowed_from), code="too_many_keys")
    ends = now + datetime.timedelta(hours=settings.CALLBACK_SECRET_OVERLAP_HOURS)
    keys.filter(expires_at__lte=now).delete()
    keys.filter(Q(expires_at=None) | Q(expires_at__gt=ends)).update(expires_at=ends)
    key = SigningKey.objects.create(endpoint=endpoint, scheme=scheme,
                                    secret=NEW_SECRET[scheme](), created_at=now)
    if scheme == SigningScheme.ED25519:
        DomainKeySet.objects.get_or_create(domain_id=endpoint.domain_id)
    endpoint.updated_at = now  # sending processes load the keys again
    endpoint.save(update_fields=["updated_at"])
    _audit(endpoint, actor, "endpoint.secret_rotated",
           after={"issued": key.key_id, "scheme": scheme,
                  "earlier_ones_stop_signing_by": ends.isoformat()})
    return endpoint


def _too_many_keys(allowed_from: datetime.datetime) -> str:
    """Why a rotation is refused, and from when it will be allowed."""
    when = allowed_from.astimezone(datetime.UTC)
    return (
        f"Not rotated: {MAX_OVERLAPPING_KEYS} earlier secrets still sign beside the current "
        f"one, the most there may be. The oldest stops signing at {when:%Y-%m-%d %H:%M:%S} "
        "UTC; rotating is allowed again from then."
    )


@transaction.atomic
def endpoint_reveal_secret(*, endpoint: Endpoint, actor: User | None) -> str:
    """Return the current signing secret (the one a receiver should hold), recording who
    saw it."""
    _audit(endpoint, actor, "endpoint.secret_revealed")
    return endpoint.current_key().secret


@transaction.atomic
def endpoint_reveal_headers(*, endpoint: Endpoint, actor: User | None) -> dict[str, str]:
    """Return the endpoint's stored header values, recording who saw them."""
    _audit(endpoint, actor, "endpoint.headers_revealed")
    return dict(endpoint.headers or {})
