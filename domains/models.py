"""The floor every app stands on: domains, users, admins, inventory, audit.

Validation that must hold whatever the write path lives in field validators
(defined here, first) and ``clean()``, so admin forms, the API and services all
get the same errors; the writes themselves (and their events) live in
``domains.services``.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
import secrets
import string
from collections.abc import Iterable, Mapping
from types import EllipsisType
from typing import Any, ClassVar, Protocol, TypeVar, cast

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import AnonymousUser, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.http import Http404
from django.utils import timezone

from domains.formats import PORT_NUMBER, mask_value

# --- Validators: domain names, e-mail domains, MAC addresses, polygons, server ----
# addresses (the models' fields use them; forms, services and the API too).

# Free-mail providers: their users share no organisation, so no such domain is
# ever registered or assigned to a user.
PUBLIC_EMAIL_DOMAINS = frozenset(
    [
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "hotmail.co.uk",
        "live.com",
        "msn.com",
        "yahoo.com",
        "yahoo.co.uk",
        "yahoo.co.jp",
        "ymail.com",
        "rocketmail.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "proton.me",
        "protonmail.com",
        "pm.me",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "mail.com",
        "yandex.com",
        "yandex.ru",
        "mail.ru",
        "qq.com",
        "163.com",
        "126.com",
        "sina.com",
        "zoho.com",
        "hey.com",
        "fastmail.com",
        "tutanota.com",
        "tuta.io",
        "mailinator.com",
    ]
)

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_TLD = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")
_MAC_HEX = re.compile(r"^[0-9A-F]{12}$")
_MAC_SEPARATED = re.compile(r"^[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}$")
_LOCAL_CAMERA_ID = re.compile(r"^[0-9A-F]{12}\.\d{1,4}$", re.IGNORECASE)


def normalize_domain_name(value: str) -> str:
    """Return ``value`` as a lower-case ASCII domain name, or raise ValidationError."""
    name = (value or "").strip().rstrip(".").lower()
    if not name:
        raise ValidationError("Enter a domain name such as acme.com.", code="required")
    try:
        name = name.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValidationError(f"{value!r} is not a valid domain name.", code="invalid") from None
    labels = name.split(".")
    if (
        len(name) > 253
        or len(labels) < 2
        or not all(_LABEL.match(label) for label in labels)
        or not _TLD.match(labels[-1])
    ):
        raise ValidationError(
            f"{value!r} is not a valid domain name (expected something like acme.com).",
            code="invalid",
        )
    return name


def validate_not_public_email_domain(name: str) -> None:
    """Refuse free-mail domains such as gmail.com."""
    if name in PUBLIC_EMAIL_DOMAINS:
        raise ValidationError(
            f"{name} is a public e-mail domain; "
            "only an organisation's own domain can be registered.",
            code="public_domain",
        )


def email_domain(email: str) -> str:
    """Return the lower-cased domain part of an e-mail address."""
    return email.rsplit("@", 1)[-1].strip().lower()


def normalize_mac_address(value: str) -> str:
    """Return ``value`` as ``AA:BB:CC:DD:EE:FF`` (blank stays blank), or raise ValidationError."""
    raw = (value or "").strip()
    if not raw:
        return ""
    if _MAC_SEPARATED.match(raw):
        raw = re.sub(r"[:-]", "", raw)
    hexdigits = raw.upper()
    if not _MAC_HEX.match(hexdigits):
        raise ValidationError(
            f"{value!r} is not a MAC address (expected six hex pairs such as AA:BB:CC:DD:EE:FF).",
            code="invalid_mac",
        )
    return ":".join(hexdigits[i : i + 2] for i in range(0, 12, 2))


def validate_local_camera_id(value: str) -> None:
    """Require Camio's local camera id form: the Box MAC in hex, a dot, an index."""
    if value and not _LOCAL_CAMERA_ID.match(value):
        raise ValidationError(
            f"{value!r} is not a local camera id (expected the Box MAC and an index, "
            "such as AABBCCDDEEFF.0).",
            code="invalid_local_camera_id",
        )


# A polygon point's coordinates are at most this in size: far beyond any image, and exact
# both as a float and as the decimal an OpenAPI schema writes (1e22 = 2**22 * 5**22).
MAX_COORDINATE = 1e22


def _is_number(value: object) -> bool:
    """A JSON number of at most MAX_COORDINATE in size (not NaN, not an infinity)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return -MAX_COORDINATE <= value <= MAX_COORDINATE


def validate_polygons(value: object) -> None:
    """Require a non-empty list of polygons, each a list of 3+ ``[x, y]`` points."""
    if not isinstance(value, list) or not value:
        raise ValidationError(
            "Polygons must be a non-empty list of polygons, each a list of [x, y] points.",
            code="invalid_polygons",
        )
    for p_index, polygon in enumerate(value, start=1):
        if not isinstance(polygon, list) or len(polygon) < 3:
            raise ValidationError(
                f"Polygon {p_index} must be a list of at least 3 [x, y] points.",
                code="invalid_polygons",
            )
        for q_index, point in enumerate(polygon, start=1):
            if not (isinstance(point, list) and len(point) == 2 and all(map(_is_number, point))):
                raise ValidationError(
                    f"Polygon {p_index}, point {q_index}: expected [x, y] with two numbers "
                    f"of at most {MAX_COORDINATE:g} in size, got {point!r}.",
                    code="invalid_polygons",
                )


# Every id in a test event's payload starts with it (callbacks' test samples), so that a
# receiver can never take a test for a real object: no real id may (generated ids are
# digits and capitals only; ids a client chooses are checked below).
TEST_ID_PREFIX = "test_"


def validate_public_id(value: str) -> None:
    """Allow ids that fit in a URL path segment: letters, digits, ``.``, ``_``, ``:``, ``-``;
    never one starting with ``test_`` (in any case), which marks test events' ids."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:-]*", value or ""):
        raise ValidationError(
            f"{value!r} is not a usable id: use letters, digits, '.', '_', ':' or '-'."
        )
    if value.lower().startswith(TEST_ID_PREFIX):
        raise ValidationError(
            f"{value!r} is not a usable id: ids starting with {TEST_ID_PREFIX!r} are kept for "
            "test events."
        )


_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$", re.ASCII)
_PORT = re.compile(PORT_NUMBER)


def _host_error(value: str, why: str) -> ValidationError:
    return ValidationError(
        f"{value!r} is not a server address ({why}); expected a host name or address with "
        "an optional port, such as apac.int.acme.com:443, 10.0.0.5 or [2001:db8::1]:8443.",
        code="invalid_server_address",
    )


def _check_host(value: str, host: str) -> None:
    if host.startswith("[") and host.endswith("]"):
        try:
            if "%" in host:  # a zone (fe80::1%eth0) names an interface of this machine
                raise ValueError(host)
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise _host_error(value, "not an IPv6 address in brackets") from None
        return
    labels = host.split(".")
    # The address as written, port included, is at most 253 characters (the schema says so).
    if len(value) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise _host_error(value, "a name is letters, digits and '-' between dots")
    if labels[-1].isdigit():  # no top-level name is all digits: an IPv4 address
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise _host_error(value, "not an IPv4 address") from None


def validate_server_address(value: str) -> None:
    """Require a host name, an IPv4 address or a bracketed IPv6 address, each with an
    optional ``:port`` from 1 to 65535 (a PACS integration's ``source_server``)."""
    host, port = value, None
    if value.startswith("[") and "]" in value:
        end = value.index("]") + 1
        host, rest = value[:end], value[end:]
        if rest and not rest.startswith(":"):
            raise _host_error(value, "only a :port may follow the address")
        port = rest[1:] if rest else None
    elif value.count(":") == 1:
        host, port = value.split(":")
    elif ":" in value:
        raise _host_error(value, "put an IPv6 address in brackets")
    _check_host(value, host)
    if port is not None and not _PORT.fullmatch(port):
        raise _host_error(value, "a port is a number from 1 to 65535")


_ID_ALPHABET = string.digits + string.ascii_uppercase


def new_public_id() -> str:
    """Return a fresh opaque 24-character public id (never a sequential integer)."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(24))


M = TypeVar("M", bound=models.Model)


class Gone(Http404):
    """A row re-read under lock was deleted by a concurrent request (a 404: the API says
    so; pages and the admin show it and go back, domains/rows.py)."""


def relock(queryset: models.QuerySet[M], pk: object) -> M:
    """Re-read row ``pk`` of ``queryset`` under a row lock (``SELECT ... FOR UPDATE``);
    raise ``Gone`` if it was deleted while this request waited for the lock."""
    found = queryset.select_for_update().filter(pk=pk).first()
    if found is None:
        name = queryset.model._meta.verbose_name
        raise Gone(f"This {name} was deleted meanwhile (by another request); nothing was "
                   "changed.")
    return found


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

    @classmethod
    def normalize_email(cls, email: str | None) -> str:
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
    # Not stored: the names of the domains the user administers, which the users/me API
    # view sets for its serializer.
    administers: list[str]

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

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


class _RequestWithUser(Protocol):
    """A Django HttpRequest or a DRF Request."""

    @property
    def user(self) -> User | AnonymousUser: ...


def signed_in_user(request: _RequestWithUser) -> User:
    """Return the user of a request that a sign-in check let through.

    For views behind login_required, the admin site's staff check or DRF's
    IsAuthenticated, where request.user is always a User.
    """
    # django-stubs types request.user as User | AnonymousUser whatever the view's checks;
    # a cast tells mypy what those checks guarantee and does nothing at run time.
    return cast(User, request.user)


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
    """A one-time set-password link e-mailed to a user (a domain's admin or not)."""

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

    @property
    def role(self) -> str:
        """What the invited person is in ``domain`` now: "primary" or "admin" (one of its
        admins), "user", or "" without a domain; the e-mail and the page word themselves by it."""
        if self.domain_id is None:
            return ""
        row = DomainAdministrator.objects.filter(
            domain_id=self.domain_id, user_id=self.user_id
        ).first()
        if row is None:
            return "user"
        return "primary" if row.is_primary else "admin"


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
        return {k: mask_value(k, audit_value(v)) for k, v in value.items()}
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
        domain: Domain | EllipsisType | None = ...,
        obj: models.Model | None = None,
        object_id: str = "",
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> AuditEntry:
        """Write one entry; call inside the transaction that makes the change. The entry's
        domain is ``obj``'s unless ``domain`` is given (None: a support-wide change)."""
        if domain is ...:
            domain = getattr(obj, "domain", None)
        real_actor = actor if actor is not None and actor.pk else None
        return self.create(
            actor=real_actor,
            actor_email=real_actor.email if real_actor else "",
            domain=domain,
            action=action,
            # A model's model_name is always set; the stubs allow None for an abstract Options.
            object_type=(obj._meta.model_name or "") if obj is not None else "",
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
