"""The floor every app stands on: domains, users, admins, inventory, audit.

Validation that must hold whatever the write path lives in field validators
and ``clean()``, so admin forms, the API and services all get the same errors;
the writes themselves (and their events) live in ``domains.services``.
"""

from __future__ import annotations

import datetime
import secrets
import string
from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from domains.formats import MASK, is_secret_name
from domains.validators import (
    normalize_domain_name,
    normalize_mac_address,
    validate_local_camera_id,
    validate_not_public_email_domain,
    validate_polygons,
    validate_public_id,
)

_ID_ALPHABET = string.digits + string.ascii_uppercase


def new_public_id() -> str:
    """Return a fresh opaque 24-character public id (never a sequential integer)."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(24))


class MACAddressField(models.CharField):
    """A MAC address stored as ``AA:BB:CC:DD:EE:FF``; other common spellings are accepted."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 17)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    def to_python(self, value: Any) -> str:
        return normalize_mac_address(super().to_python(value) or "")


# --- Domains and users -----------------------------------------------------


class DomainQuerySet(models.QuerySet["Domain"]):
    def registered(self) -> DomainQuerySet:
        return self.filter(registered=True)

    def administered_by(self, user: Any) -> DomainQuerySet:
        """Return the registered domains ``user`` may manage: the one access question."""
        if not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        return self.filter(registered=True, administrators__user=user)


class Domain(models.Model):
    name = models.CharField(max_length=253, unique=True, help_text="Lower-case, such as acme.com.")
    registered = models.BooleanField(default=False)
    registered_at = models.DateTimeField(null=True, blank=True)
    min_upload_queue_length_for_incident_creation = models.PositiveIntegerField(
        "Min Upload Queue Length for Incident",
        null=True,
        blank=True,
        help_text="A Box whose upload queue grows past this opens an incident. Empty: never.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = DomainQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(name=Lower("name")), name="domain_name_lower"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        try:
            self.name = normalize_domain_name(self.name)
            validate_not_public_email_domain(self.name)
        except ValidationError as exc:
            raise ValidationError({"name": exc.messages}) from None

    @property
    def primary_admin(self) -> User | None:
        row = self.administrators.filter(is_primary=True).select_related("user").first()
        return row.user if row else None


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def normalize_email(self, email: str | None) -> str:
        return (email or "").strip().lower()

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        """Create a plain user (services decide the domain; see domains.services)."""
        user = self.model(email=self.normalize_email(email), **extra)
        user.set_password(password) if password else user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    user_id = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    email = models.EmailField(unique=True)
    name = models.CharField(max_length=150, blank=True)
    domain = models.ForeignKey(
        Domain,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="users",
        help_text="Set from the e-mail's domain when that domain is registered.",
    )
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(
        "support staff", default=False, help_text="May sign in to the Django admin."
    )
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(email=Lower("email")), name="user_email_lower"
            ),
        ]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = UserManager().normalize_email(self.email)

    def as_payload(self) -> dict[str, str]:
        """Return the ``user`` object of callback payloads."""
        return {"user_id": self.user_id, "email": self.email}


class DomainAdministrator(models.Model):
    """A user who manages a domain's callbacks; exactly one per domain is primary."""

    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="administrators")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="administered")
    is_primary = models.BooleanField(default=False)
    added_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-is_primary", "user__email"]
        constraints = [
            models.UniqueConstraint(fields=["domain", "user"], name="one_admin_row_per_user"),
            models.UniqueConstraint(
                fields=["domain"], condition=models.Q(is_primary=True), name="one_primary_admin"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({'primary ' if self.is_primary else ''}admin of {self.domain})"

    def clean(self) -> None:
        if self.user_id and self.domain_id and self.user.domain_id != self.domain_id:
            raise ValidationError(
                {"user": f"{self.user.email} is not a user of {self.domain.name}."}
            )


class Invitation(models.Model):
    """A one-time set-password link e-mailed to a new domain admin."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="invitations")
    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, null=True, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Invitation for {self.user}"


# --- Inventory -------------------------------------------------------------


class InventoryQuerySet(models.QuerySet):
    def for_domain(self, domain: Domain) -> InventoryQuerySet:
        return self.filter(domain=domain)


class OwnedByDomainUser(models.Model):
    """An inventory object owned by a user of a registered domain."""

    domain = models.ForeignKey(Domain, on_delete=models.PROTECT, related_name="+", db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = InventoryQuerySet.as_manager()

    class Meta:
        abstract = True

    def clean_owner(self) -> None:
        owner = getattr(self, "owner", None)
        if owner is None:
            return
        if owner.domain_id is None or not owner.domain.registered:
            raise ValidationError({"owner": f"{owner.email} is not a user of a registered domain."})
        if self.domain_id and self.domain_id != owner.domain_id:
            raise ValidationError(
                {"owner": f"{owner.email} belongs to another domain than this object."}
            )


class Device(OwnedByDomainUser):
    """A Camio Box: the gateway that streams a site's cameras."""

    device_id = models.CharField(
        "device id",
        max_length=64,
        unique=True,
        default=new_public_id,
        blank=True,
        validators=[validate_public_id],
        help_text="Opaque public id; generated unless the Box has one.",
    )
    name = models.CharField(max_length=200)
    mac_address = MACAddressField("MAC address")
    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="devices")

    class Meta:
        ordering = ["name"]
        verbose_name = "Box"
        verbose_name_plural = "Boxes"

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        self.clean_owner()


class Camera(OwnedByDomainUser):
    camera_id = models.CharField(
        "camera id",
        max_length=64,
        unique=True,
        default=new_public_id,
        blank=True,
        validators=[validate_public_id],
        help_text="Opaque public id; generated unless given.",
    )
    local_camera_id = models.CharField(
        "local camera id",
        max_length=40,
        blank=True,
        validators=[validate_local_camera_id],
        help_text="The Box's MAC in hex and an index, such as AABBCCDDEEFF.0.",
    )
    name = models.CharField(max_length=200)
    ip_address = models.GenericIPAddressField("IP address", null=True, blank=True)
    mac_address = MACAddressField("MAC address")
    maker = models.CharField(max_length=100, blank=True)
    model = models.CharField(max_length=100, blank=True)
    device = models.ForeignKey(
        Device, on_delete=models.PROTECT, related_name="cameras", verbose_name="Box"
    )
    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="cameras")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        self.local_camera_id = (self.local_camera_id or "").strip().upper()
        self.clean_owner()
        if self.device_id and self.owner_id and self.device.domain_id != self.owner.domain_id:
            raise ValidationError({"device": "This Box belongs to another domain than the owner."})


class Zone(OwnedByDomainUser):
    zone_id = models.CharField(max_length=64, unique=True, default=new_public_id, editable=False)
    name = models.CharField(max_length=200)
    polygons = models.JSONField(
        validators=[validate_polygons],
        error_messages={
            "blank": "Polygons must be a non-empty list of polygons, each a list of [x, y] points.",
            "null": "Polygons must be a non-empty list of polygons, each a list of [x, y] points.",
        },
        help_text="A list of polygons, each a list of [x, y] points: [[[0,0],[1,0],[1,1]]].",
    )
    camera = models.ForeignKey(Camera, on_delete=models.PROTECT, related_name="zones")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.domain_id and self.camera_id and self.camera.domain_id != self.domain_id:
            raise ValidationError({"camera": "A zone cannot move to another domain's camera."})


# --- Hooks -------------------------------------------------------------------


class HookType(models.TextChoices):
    QUERY_MATCH = "query_match"
    LABEL_HIT = "label_hit"
    QUERY_MATCH_AD_HOC = "query_match_ad_hoc"


def validate_hook_query(value: str) -> None:
    from domains.hookquery import validate_query

    validate_query(value)


def validate_callback_url(value: str) -> None:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value or "")
        host = parts.hostname
    except ValueError:  # such as an unclosed [IPv6 bracket
        host = None
    if not host or parts.scheme not in ("http", "https"):
        raise ValidationError(f"{value!r} is not an http(s) URL with a host.")


class Hook(OwnedByDomainUser):
    """A user's saved video-search subscription. Stored and announced (hook.*), never called."""

    hook_id = models.CharField(max_length=64, unique=True, default=new_public_id, editable=False)
    callback_url = models.CharField(
        "callback URL", max_length=2048, validators=[validate_callback_url]
    )
    type = models.CharField(max_length=24, choices=HookType.choices)
    parsed_query = models.TextField(
        validators=[validate_hook_query],
        help_text="Such as: camera == 'Front Entrance' and labels in ['person']",
    )
    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="hooks")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.type} hook {self.hook_id}"

    def clean(self) -> None:
        self.clean_owner()


# --- Audit -----------------------------------------------------------------




def audit_value(value: Any) -> Any:
    """Return ``value`` in JSON form for the audit log: public ids for objects, secrets masked."""
    if isinstance(value, models.Model):
        for attr in ("user_id", "device_id", "camera_id", "zone_id", "hook_id", "endpoint_id"):
            public = value.__dict__.get(attr)
            if isinstance(public, str):
                return public
        return str(value)
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: MASK if is_secret_name(k) else audit_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [audit_value(v) for v in value]
    return value


def snapshot_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``values`` (field name to value) as JSON-able values, secrets masked."""
    return audit_value(dict(values))


def snapshot(obj: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    """Return the named fields of ``obj`` as JSON-able values, secrets masked (an audit
    entry's ``before`` or ``after``)."""
    return snapshot_values({name: getattr(obj, name) for name in fields})


class AuditEntryManager(models.Manager["AuditEntry"]):
    def record(
        self,
        *,
        actor: Any,
        action: str,
        domain: Domain | None,
        obj: models.Model | None = None,
        object_id: str = "",
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> AuditEntry:
        """Write one entry; call inside the transaction that makes the change."""
        real_actor = actor if actor is not None and actor.pk else None
        return self.create(
            actor=real_actor,
            actor_email=real_actor.email if real_actor else "",
            domain=domain,
            action=action,
            object_type=obj._meta.model_name if obj is not None else "",
            object_id=object_id or (audit_value(obj) if obj is not None else ""),
            object_repr=str(obj)[:300] if obj is not None else "",
            before=before,
            after=after,
        )


class AuditEntry(models.Model):
    """Who changed what, when; written by services in the change's transaction."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_email = models.CharField(max_length=254, blank=True)
    domain = models.ForeignKey(
        Domain, on_delete=models.SET_NULL, null=True, blank=True, related_name="audit_entries"
    )
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=300, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    objects = AuditEntryManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["domain", "-created_at"], name="audit_domain_time")]

    def __str__(self) -> str:
        return f"{self.actor_email or 'system'} {self.action} {self.object_repr}"


# --- API tokens ----------------------------------------------------------------


class TokenKind(models.TextChoices):
    """Each kind opens its own routes only (DESIGN.md section 10)."""

    USER = "user", "user token"
    BOX = "box", "Box token"
    PACS = "pacs", "PACS token"


TOKEN_TAGS = {TokenKind.USER: "cpu", TokenKind.BOX: "cpb", TokenKind.PACS: "cpp"}


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def live(self) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True)


class ApiToken(models.Model):
    """A bearer credential, stored as a SHA-256 digest; the plaintext is shown once.

    ``user`` is the holder (the Box's or integration's owner for those kinds);
    a Box token names its ``device``; a PACS token names its integration's
    public id in ``subject`` (the pacs app sits above this floor).
    """

    kind = models.CharField(max_length=8, choices=TokenKind.choices)
    name = models.CharField(max_length=100)
    prefix = models.CharField(
        max_length=16, unique=True, help_text="The token's visible start, to recognise it."
    )
    digest = models.CharField(max_length=64, unique=True, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    device = models.ForeignKey(
        Device, on_delete=models.CASCADE, null=True, blank=True, related_name="tokens"
    )
    subject = models.CharField(max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(kind="box") | models.Q(device__isnull=False),
                name="box_token_names_device",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.prefix}… ({self.name})"

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None
