"""PACS (door access) integrations, their doors and readers, vendor label maps, and the
events they send: kept whole, with camio_metadata, relayed in batches when no camera
sees the door."""

from __future__ import annotations

import functools
import hashlib
import uuid
import zoneinfo

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from domains.models import Camera, Domain, User, new_public_id


class Vendor(models.TextChoices):
    ONGUARD = "onguard", "Lenel OnGuard"
    OPENPATH = "openpath", "Openpath / Avigilon Alta"
    BRIVO = "brivo", "Brivo"
    GENERIC = "generic", "Generic JSON"


@functools.cache
def time_zones() -> frozenset[str]:
    # Names that depend on the server, or mean nothing, are not zones to store.
    return frozenset(zoneinfo.available_timezones()) - {"localtime", "posixrules", "Factory"}


def validate_time_zone(value: str) -> None:
    if value not in time_zones():
        raise ValidationError(f"{value!r} is not a time zone, such as UTC or America/Chicago.")


class PacsIntegrationQuerySet(models.QuerySet["PacsIntegration"]):
    def live(self) -> PacsIntegrationQuerySet:
        """Integrations not deleted (a deleted one waits out its undo window, then goes)."""
        return self.filter(deleted_at=None)


class PacsIntegration(models.Model):
    integration_id = models.CharField(
        max_length=32, unique=True, default=new_public_id, editable=False
    )
    domain = models.ForeignKey(Domain, on_delete=models.PROTECT, related_name="+", db_index=True)
    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="pacs_integrations")
    vendor = models.CharField(max_length=16, choices=Vendor.choices)
    name = models.CharField(max_length=200)
    source_server = models.CharField(
        max_length=255, blank=True, help_text="Such as apac.int.acme.com:443 (optional)."
    )
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_time_zone],
        help_text="For vendor times without an offset.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # Set on delete: its tokens answer 401 at once; Undo clears it within UNDO_WINDOW_HOURS,
    # after which the retention task purges the integration with its devices and tokens.
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = PacsIntegrationQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = "PACS integration"

    def __str__(self) -> str:
        return f"{self.name} ({self.get_vendor_display()})"

    def clean(self) -> None:
        owner = getattr(self, "owner", None)
        if owner is not None and (owner.domain_id is None or not owner.domain.registered):
            raise ValidationError({"owner": f"{owner.email} is not a user of a registered domain."})


class PacsDevice(models.Model):
    """A door or reader as the PACS names it; mapped to the cameras that see it."""

    integration = models.ForeignKey(
        PacsIntegration, on_delete=models.CASCADE, related_name="devices"
    )
    device_id = models.CharField(max_length=128, help_text="The vendor's door or reader id.")
    device_name = models.CharField(max_length=255, blank=True)
    cameras = models.ManyToManyField(Camera, blank=True, related_name="pacs_devices")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["device_name", "device_id"]
        verbose_name = "PACS device"
        constraints = [
            models.UniqueConstraint(fields=["integration", "device_id"], name="one_pacs_device_id")
        ]

    def __str__(self) -> str:
        return self.device_name or self.device_id


class PacsLabel(models.Model):
    """What a vendor's event code means, as a Camio label (admin-editable)."""

    vendor = models.CharField(max_length=16, choices=Vendor.choices)
    code = models.CharField(
        max_length=128, help_text="OnGuard: <type>/<subtype>; others: the vendor's event name."
    )
    label = models.CharField(max_length=128)
    description = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["vendor", "code"]
        verbose_name = "PACS label"
        constraints = [
            models.UniqueConstraint(fields=["vendor", "code"], name="one_label_per_code")
        ]

    def __str__(self) -> str:
        return f"{self.vendor} {self.code} → {self.label}"


class EventState(models.TextChoices):
    MAPPED = "mapped", "seen by a camera (not relayed)"
    PENDING = "pending", "waiting to be relayed"
    RELAYED = "relayed", "relayed"


def vendor_id_digest(vendor_event_id: str) -> str:
    """Return the SHA-256 (hex) of a vendor's event id; "" for an event without one."""
    return hashlib.sha256(vendor_event_id.encode()).hexdigest() if vendor_event_id else ""


class PacsEvent(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    integration = models.ForeignKey(
        PacsIntegration, on_delete=models.CASCADE, related_name="events"
    )
    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="+")
    # The vendor's id whole (each vendor field has its own limit, pacs.vendors.base);
    # duplicates are found by its digest, so the unique index stays small.
    vendor_event_id = models.CharField(max_length=255, blank=True)
    vendor_event_digest = models.CharField(
        max_length=64, blank=True, editable=False, help_text="SHA-256 of vendor_event_id."
    )
    entry_id = models.CharField(max_length=128)
    occurred_at = models.DateTimeField()
    labels = models.JSONField(default=list)
    body = models.JSONField(help_text="The vendor's event, unchanged, plus camio_metadata.")
    state = models.CharField(max_length=8, choices=EventState.choices)
    cameras = models.ManyToManyField(Camera, blank=True, related_name="pacs_events")
    batch_id = models.UUIDField(null=True, blank=True)
    event_id = models.UUIDField(null=True, blank=True, help_text="The pacs.events.created event.")
    received_at = models.DateTimeField(default=timezone.now)
    relayed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name = "PACS event"
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "vendor_event_digest"],
                condition=~models.Q(vendor_event_digest=""),
                name="one_pacs_event_per_vendor_digest",
            )
        ]
        indexes = [
            models.Index(fields=["integration", "-received_at"], name="pacs_event_recent"),
            models.Index(
                fields=["integration", "received_at"],
                condition=models.Q(state="pending"),
                name="pacs_event_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.entry_id} {self.labels[1] if len(self.labels) > 1 else ''}"
