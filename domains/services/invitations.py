"""One-time set-password links, for domain admins and other users alike."""

from __future__ import annotations

import datetime
import hashlib
import secrets

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from domains.models import AuditEntry, Domain, Invitation, User


class InvitationError(Exception):
    """The invitation link cannot be used; the message says why."""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_send(*, user: User, domain: Domain | None, actor: User | None) -> str:
    """Create a fresh invitation for ``user``, revoke older ones, e-mail it after commit,
    worded for what ``user`` is in ``domain`` (its primary admin, an admin, a user).

    Returns the link (the e-mail carries the same one).
    """
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    url = settings.PORTAL_URL + reverse("domains:invitation_accept", args=[token])
    with transaction.atomic():
        Invitation.objects.filter(user=user, used_at=None, revoked_at=None).update(revoked_at=now)
        invitation = Invitation.objects.create(
            user=user,
            domain=domain,
            token_hash=_hash(token),
            created_by=actor if actor and actor.pk else None,
            expires_at=now + datetime.timedelta(days=settings.INVITATION_MAX_AGE_DAYS),
        )
        AuditEntry.objects.record(actor=actor, action="invitation.sent", domain=domain, obj=user)
        context = {
            "user": user,
            "domain": domain,
            "role": invitation.role,  # worded for it: a plain user is not told they are admin
            "url": url,
            "days": settings.INVITATION_MAX_AGE_DAYS,
            "admin_url": settings.PORTAL_URL + reverse("admin:index"),
        }
        subject = f"Set up your Camio Portal account{f' for {domain.name}' if domain else ''}"
        body = render_to_string("domains/email/invitation.txt", context)
        transaction.on_commit(
            lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])
        )
    return url


def invitation_check(token: str) -> Invitation:
    """Return the usable invitation for ``token`` or raise InvitationError saying why not."""
    invitation = Invitation.objects.select_related("user").filter(token_hash=_hash(token)).first()
    if invitation is None:
        raise InvitationError("This invitation link is not valid. Check that you copied it whole.")
    if invitation.used_at is not None:
        raise InvitationError(
            "This invitation link has already been used. Sign in, or reset your password."
        )
    if invitation.revoked_at is not None:
        raise InvitationError(
            "This invitation link was replaced by a newer one. Use the link in the latest e-mail."
        )
    if invitation.expires_at <= timezone.now():
        # A password reset mails only users who have a password: offer it only to them.
        reset = ", or reset your password" if invitation.user.has_usable_password() else ""
        raise InvitationError(
            f"This invitation link has expired. Ask support ({settings.SUPPORT_EMAIL}) to send "
            f"a new one{reset}."
        )
    return invitation


def invitation_accept(*, token: str, password: str) -> User:
    """Set the invited user's password and spend the link (once, even under a race)."""
    invitation = invitation_check(token)
    user = invitation.user
    validate_password(password, user)
    with transaction.atomic():
        spent = Invitation.objects.filter(pk=invitation.pk, used_at=None).update(
            used_at=timezone.now()
        )
        if spent != 1:
            raise InvitationError("This invitation link has already been used.")
        user.set_password(password)
        user.save(update_fields=["password"])
        AuditEntry.objects.record(
            actor=user, action="invitation.accepted", domain=invitation.domain, obj=user
        )
    return user
