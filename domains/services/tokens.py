"""API tokens: issue (shown once), revoke, and recognise a presented token.

The one token machinery for every kind (user, Box, PACS): a tagged random
string whose SHA-256 digest is stored; lookups go by digest.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
import string

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from domains.models import TOKEN_TAGS, ApiToken, AuditEntry, Device, TokenKind, User

_ALPHABET = string.ascii_letters + string.digits
_BODY_LENGTH = 40  # ~238 bits
_VISIBLE = 8  # characters after the tag shown as the prefix
# Bookkeeping writes for last_used_at at most this often per token.
_TOUCH_EVERY = datetime.timedelta(minutes=1)


def token_digest(raw: str) -> str:
    """Return the stored form of a presented token."""
    return hashlib.sha256(raw.encode()).hexdigest()


def _new_token(kind: str) -> str:
    body = "".join(secrets.choice(_ALPHABET) for _ in range(_BODY_LENGTH))
    return f"{TOKEN_TAGS[TokenKind(kind)]}_{body}"


def _check_holder(user: User) -> None:
    domain = user.domain  # None without a query when domain_id is None
    if domain is None or not domain.registered:
        raise ValidationError({"user": [f"{user.email} is not a user of a registered domain."]})


@transaction.atomic
def token_issue(
    *,
    kind: str,
    user: User | None,
    name: str,
    actor: User | None,
    device: Device | None = None,
    subject: str = "",
) -> tuple[ApiToken, str]:
    """Create a token and return it with its plaintext (never stored, shown once).

    A Box token's holder is its Box's owner (``user`` is then ignored, and may be None).
    """
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": ["Give the token a name, such as 'deploy script'."]})
    if len(name) > 100:
        raise ValidationError({"name": ["Use at most 100 characters."]})
    if kind == TokenKind.BOX:
        if device is None:
            raise ValidationError({"device": ["A Box token needs its Box."]})
        user = device.owner
    if user is None:
        raise ValidationError({"user": ["Choose who holds the token."]})
    _check_holder(user)
    raw = _new_token(kind)
    token = ApiToken.objects.create(
        kind=kind,
        name=name,
        prefix=raw[: len(TOKEN_TAGS[TokenKind(kind)]) + 1 + _VISIBLE],
        digest=token_digest(raw),
        user=user,
        device=device,
        subject=subject,
        created_by=actor if actor is not None and actor.pk else None,
    )
    AuditEntry.objects.record(
        actor=actor, action="token.created", domain=user.domain, obj=token, object_id=token.prefix,
        after={"kind": kind, "name": name, "prefix": token.prefix, "holder": user.email},
    )
    return token, raw


@transaction.atomic
def token_revoke(*, token: ApiToken, actor: User | None) -> ApiToken:
    """Revoke a token at once; requests carrying it answer 401 from now on."""
    changed = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    token.refresh_from_db()
    if changed:
        AuditEntry.objects.record(
            actor=actor, action="token.revoked", domain=token.user.domain, obj=token,
            object_id=token.prefix,
            after={"kind": token.kind, "name": token.name, "prefix": token.prefix},
        )
    return token


def token_find(raw: str) -> ApiToken | None:
    """Return the live token ``raw`` stands for (noting its use), or None."""
    raw = (raw or "").strip()
    if not raw or len(raw) > 200:
        return None
    token = (
        ApiToken.objects.live()
        .select_related("user", "user__domain", "device")
        .filter(digest=token_digest(raw))
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > _TOUCH_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
