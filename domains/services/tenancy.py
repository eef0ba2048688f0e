"""Domains, their users and their admins."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from domains.models import (
    AuditEntry,
    Domain,
    DomainAdministrator,
    User,
    email_domain,
    normalize_domain_name,
    snapshot,
    validate_not_public_email_domain,
)
from domains.services.invitations import invitation_send

DOMAIN_FIELDS = ("name", "registered", "min_upload_queue_length_for_incident_creation")


def _clean_email(email: str, field: str = "email") -> str:
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({field: [f"{email!r} is not a valid e-mail address."]}) from None
    return email


def _registered_domain_for(email: str) -> Domain | None:
    return Domain.objects.registered().filter(name=email_domain(email)).first()


@transaction.atomic
def user_create(
    *,
    email: str,
    password: str | None = None,
    name: str = "",
    is_staff: bool = False,
    is_superuser: bool = False,
    actor: User | None = None,
) -> User:
    """Create a user; one whose e-mail domain is registered joins that domain."""
    email = _clean_email(email)
    if User.objects.filter(email=email).exists():
        raise ValidationError({"email": [f"A user with the e-mail {email} already exists."]})
    user = User(
        email=email,
        name=name,
        is_staff=is_staff,
        is_superuser=is_superuser,
        domain=_registered_domain_for(email),
    )
    user.set_password(password) if password else user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    AuditEntry.objects.record(
        actor=actor, action="user.created", obj=user,
        after=snapshot(user, ("email", "name", "domain", "is_staff")),
    )
    return user


@transaction.atomic
def user_update(*, user: User, actor: User | None, changes: dict[str, Any]) -> User:
    """Change a user's name, domain or staff flags (support staff, in the admin)."""
    allowed = {"name", "domain", "is_active", "is_staff", "is_superuser"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError({name: ["This field cannot be changed here."] for name in unknown})
    before = snapshot(user, changes)
    moving = "domain" in changes and getattr(changes["domain"], "pk", None) != user.domain_id
    if moving and user.administered.exists():
        raise ValidationError(
            {"domain": ["Remove this user from the admins of their domain first."]}
        )
    for name, value in changes.items():
        setattr(user, name, value)
    user.full_clean(exclude=["password"])
    user.save()
    AuditEntry.objects.record(
        actor=actor, action="user.updated", obj=user, before=before, after=snapshot(user, changes)
    )
    return user


def domain_registration_check(*, name: str, admin_email: str) -> tuple[str, str]:
    """Return the normalized (name, admin e-mail) or raise ValidationError naming the field."""
    try:
        name = normalize_domain_name(name)
        validate_not_public_email_domain(name)
    except ValidationError as exc:
        raise ValidationError({"name": exc.messages}) from None
    if Domain.objects.registered().filter(name=name).exists():
        raise ValidationError({"name": [f"{name} is already registered."]})
    admin_email = _clean_email(admin_email, "admin_email")
    if email_domain(admin_email) != name:
        raise ValidationError(
            {"admin_email": [f"The primary admin's e-mail must be in {name} (got {admin_email})."]}
        )
    return name, admin_email


def domain_register(
    *, name: str, admin_email: str, actor: User | None = None, invite: bool = True
) -> Domain:
    """Register ``name`` with ``admin_email`` as its primary admin and invite them.

    Creates the admin's user when needed, moves every existing user whose
    e-mail is in the domain into it, and (unless ``invite`` is false, for an
    admin who already has a password) e-mails a set-password link after commit.
    """
    name, admin_email = domain_registration_check(name=name, admin_email=admin_email)
    with transaction.atomic():
        domain = Domain.objects.select_for_update().filter(name=name).first()
        if domain is not None and domain.registered:
            raise ValidationError({"name": [f"{name} is already registered."]})
        domain = domain or Domain(name=name)
        domain.registered, domain.registered_at = True, timezone.now()
        domain.full_clean()
        domain.save()
        User.objects.filter(email__endswith=f"@{name}").update(domain=domain)
        admin = User.objects.filter(email=admin_email).first() or user_create(
            email=admin_email, actor=actor
        )
        admin.refresh_from_db()
        DomainAdministrator.objects.create(
            domain=domain,
            user=admin,
            is_primary=True,
            added_by=actor if actor and actor.pk else None,
        )
        AuditEntry.objects.record(
            actor=actor, action="domain.registered", domain=domain, obj=domain, object_id=name,
            after={**snapshot(domain, DOMAIN_FIELDS), "primary_admin": admin.email},
        )
        if invite:
            invitation_send(user=admin, domain=domain, actor=actor)
    return domain


@transaction.atomic
def domain_update(
    *, domain: Domain, actor: User | None, min_upload_queue_length_for_incident_creation: int | None
) -> Domain:
    """Change the domain's own setting (the upload-queue incident threshold)."""
    field = "min_upload_queue_length_for_incident_creation"
    before = snapshot(domain, (field,))
    domain.min_upload_queue_length_for_incident_creation = (
        min_upload_queue_length_for_incident_creation
    )
    domain.full_clean()
    domain.save(update_fields=[field])
    AuditEntry.objects.record(
        actor=actor, action="domain.updated", domain=domain, obj=domain, object_id=domain.name,
        before=before, after=snapshot(domain, (field,)),
    )
    return domain


@transaction.atomic
def domain_admin_add(*, domain: Domain, user: User, actor: User | None) -> DomainAdministrator:
    """Make ``user`` (a user of ``domain``) a co-admin."""
    if user.domain_id != domain.pk:
        raise ValidationError({"user": [f"{user.email} is not a user of {domain.name}."]})
    if DomainAdministrator.objects.filter(domain=domain, user=user).exists():
        raise ValidationError({"user": [f"{user.email} is already an admin of {domain.name}."]})
    row = DomainAdministrator.objects.create(
        domain=domain, user=user, is_primary=False, added_by=actor if actor and actor.pk else None
    )
    AuditEntry.objects.record(
        actor=actor, action="domain.admin_added", domain=domain, obj=user,
        after={"admin": user.email},
    )
    return row


@transaction.atomic
def domain_admin_remove(*, domain: Domain, user: User, actor: User | None) -> None:
    """Remove a co-admin; the primary admin cannot be removed."""
    row = DomainAdministrator.objects.filter(domain=domain, user=user).first()
    if row is None:
        raise ValidationError({"user": [f"{user.email} is not an admin of {domain.name}."]})
    if row.is_primary:
        raise ValidationError({"user": ["The primary admin cannot be removed."]})
    row.delete()
    AuditEntry.objects.record(
        actor=actor, action="domain.admin_removed", domain=domain, obj=user,
        before={"admin": user.email},
    )


@dataclass(frozen=True)
class CoAdminAdded:
    """What ``co_admin_invite`` did, for a message that says exactly that."""

    user: User
    created: bool  # a new user of the domain
    invited: bool  # e-mailed an invitation to choose a password (after commit)


def co_admin_invite(*, domain: Domain, email: str, actor: User | None) -> CoAdminAdded:
    """Make ``email`` a co-admin of ``domain``, creating the user if new; a user without a
    password (new, or one who never chose theirs) is e-mailed an invitation to choose one,
    since they could not sign in otherwise."""
    email = _clean_email(email, "email")
    if email_domain(email) != domain.name:
        raise ValidationError({"email": [f"{email} is not an address in {domain.name}."]})
    with transaction.atomic():
        user = User.objects.filter(email=email).first()
        created = user is None
        if user is None:
            user = user_create(email=email, actor=actor)
        domain_admin_add(domain=domain, user=user, actor=actor)
        invited = not user.has_usable_password()
        if invited:
            invitation_send(user=user, domain=domain, actor=actor)
    return CoAdminAdded(user=user, created=created, invited=invited)
