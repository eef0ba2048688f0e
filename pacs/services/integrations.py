"""Integrations, their PACS tokens, their device lists and the devices' cameras."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from domains.models import (
    ApiToken,
    AuditEntry,
    Camera,
    TokenKind,
    User,
    relock,
    validate_server_address,
)
from domains.services import token_issue, token_revoke
from pacs.models import PacsDevice, PacsIntegration, Vendor

EDITABLE = frozenset({"name", "source_server", "time_zone", "vendor"})


def _audit(integration: PacsIntegration, actor: User | None, action: str, **extra: Any) -> None:
    AuditEntry.objects.record(
        actor=actor, action=action, obj=integration, object_id=integration.integration_id,
        **extra,
    )


def _view(integration: PacsIntegration) -> dict[str, str]:
    return {name: getattr(integration, name) for name in sorted(EDITABLE)}


def check_source_server(value: str) -> None:
    """Refuse a ``source_server`` that is not a server address (it is echoed into every
    relayed callback). Checked on input only: rows saved before still load and save."""
    if value:
        try:
            validate_server_address(value)
        except ValidationError as exc:
            raise ValidationError({"source_server": exc.messages}) from None


@transaction.atomic
def integration_create(
    *,
    owner: User,
    vendor: str,
    name: str,
    source_server: str = "",
    time_zone: str = "UTC",
    actor: User | None = None,
) -> PacsIntegration:
    """Connect a PACS for ``owner`` (a user of a registered domain)."""
    if vendor not in Vendor.values:
        raise ValidationError({"vendor": [f"Choose one of {', '.join(Vendor.values)}."]})
    check_source_server((source_server or "").strip())
    integration = PacsIntegration(
        owner=owner,
        # None for a user without a domain: full_clean then refuses the owner, as it should.
        domain_id=owner.domain_id,  # type: ignore[misc]
        vendor=vendor,
        name=(name or "").strip(),
        source_server=(source_server or "").strip(),
        time_zone=(time_zone or "UTC").strip(),
    )
    integration.full_clean()
    integration.save()
    _audit(integration, actor or owner, "pacs_integration.created", after=_view(integration))
    return integration


@transaction.atomic
def integration_update(
    *, integration: PacsIntegration, actor: User | None, changes: Mapping[str, Any]
) -> PacsIntegration:
    unknown = set(changes) - EDITABLE
    if unknown:
        raise ValidationError({name: ["This field cannot be changed."] for name in unknown})
    before = _view(integration)
    for name, value in changes.items():
        setattr(integration, name, (value or "").strip() if isinstance(value, str) else value)
    if integration.source_server != before["source_server"]:
        check_source_server(integration.source_server)
    if _view(integration) == before:
        return integration  # nothing changed: nothing to save or audit
    integration.full_clean()
    integration.updated_at = timezone.now()
    integration.save()
    _audit(integration, actor, "pacs_integration.updated", before=before, after=_view(integration))
    return integration


@transaction.atomic
def undo_window() -> datetime.timedelta:
    return datetime.timedelta(hours=settings.UNDO_WINDOW_HOURS)


@transaction.atomic
def integration_delete(*, integration: PacsIntegration, actor: User | None) -> None:
    """Delete an integration: inert at once (its tokens answer 401, nothing is relayed), and
    restorable with its devices, mappings, events and tokens for UNDO_WINDOW_HOURS."""
    integration = relock(PacsIntegration.objects.all(), integration.pk)
    if integration.deleted_at is not None:
        return
    integration.deleted_at = timezone.now()
    integration.save(update_fields=["deleted_at"])
    _audit(integration, actor, "pacs_integration.deleted", before=_view(integration))


@transaction.atomic
def integration_restore(*, integration: PacsIntegration, actor: User | None) -> PacsIntegration:
    """Undo a delete inside the window: the integration and its tokens work again."""
    integration = relock(PacsIntegration.objects.all(), integration.pk)
    if integration.deleted_at is None:
        return integration
    if integration.deleted_at + undo_window() <= timezone.now():
        raise ValidationError("Its undo window has ended; it is being purged.")
    integration.deleted_at = None
    integration.save(update_fields=["deleted_at"])
    _audit(integration, actor, "pacs_integration.restored", after=_view(integration))
    return integration


def integrations_purge(*, now: datetime.datetime | None = None) -> int:
    """Purge integrations deleted longer than the undo window ago, with their devices, door
    mappings, events and tokens; return how many."""
    cutoff = (now or timezone.now()) - undo_window()
    purged = 0
    for integration in PacsIntegration.objects.filter(deleted_at__lt=cutoff):
        with transaction.atomic():
            ApiToken.objects.filter(
                kind=TokenKind.PACS, subject=integration.integration_id
            ).delete()
            _audit(integration, None, "pacs_integration.purged", before=_view(integration))
            integration.delete()  # cascades to devices, their camera mappings, and events
        purged += 1
    return purged


def integration_token_issue(
    *, integration: PacsIntegration, actor: User | None, name: str = "PACS gateway"
) -> tuple[ApiToken, str]:
    """A new PACS token for the integration (shown once)."""
    return token_issue(
        kind=TokenKind.PACS,
        user=integration.owner,
        name=name,
        actor=actor,
        subject=integration.integration_id,
    )


@transaction.atomic
def integration_token_rotate(
    *, integration: PacsIntegration, actor: User | None
) -> tuple[ApiToken, str]:
    """Issue a new token and revoke the integration's others at once."""
    token, raw = integration_token_issue(integration=integration, actor=actor)
    for old in (
        ApiToken.objects.live()
        .filter(kind=TokenKind.PACS, subject=integration.integration_id)
        .exclude(pk=token.pk)
    ):
        token_revoke(token=old, actor=actor)
    return token, raw


def _device_rows(devices: Any) -> dict[str, str]:
    if not isinstance(devices, list):
        raise ValidationError({"devices": ['Send {"devices": [{"device_id", "device_name"}]}.']})
    rows, errors = {}, {}
    for index, item in enumerate(devices):
        device_id = item.get("device_id") if isinstance(item, dict) else None
        name = item.get("device_name", "") if isinstance(item, dict) else ""
        if isinstance(device_id, int) and not isinstance(device_id, bool):
            device_id = str(device_id)
        if not isinstance(device_id, str) or not device_id.strip() or len(device_id) > 128:
            errors[f"devices.{index}.device_id"] = ["A device_id of 1 to 128 characters."]
        elif not isinstance(name, str) or len(name) > 255:
            errors[f"devices.{index}.device_name"] = ["A device_name of at most 255 characters."]
        else:
            rows[device_id.strip()] = name.strip()
    if errors:
        raise ValidationError(errors)
    return rows


@transaction.atomic
def devices_replace(*, integration: PacsIntegration, devices: Any) -> dict[str, Any]:
    """Replace the integration's device list; devices mapped to cameras stay."""
    rows = _device_rows(devices)
    current = {d.device_id: d for d in integration.devices.prefetch_related("cameras")}
    gone = [d for key, d in current.items() if key not in rows]
    kept = [d.device_id for d in gone if d.cameras.all()]  # prefetched: no query per device
    removed = [d.pk for d in gone if d.device_id not in kept]
    PacsDevice.objects.filter(pk__in=removed).delete()
    now = timezone.now()
    changed = []
    for key, name in rows.items():
        device = current.get(key)
        if device is not None and device.device_name != name:
            device.device_name, device.updated_at = name, now
            changed.append(device)
    PacsDevice.objects.bulk_update(changed, ["device_name", "updated_at"])
    PacsDevice.objects.bulk_create(
        [
            PacsDevice(integration=integration, device_id=key, device_name=name)
            for key, name in rows.items()
            if key not in current
        ]
    )
    return {"devices": len(rows), "removed": len(removed), "kept_mapped": kept}


@transaction.atomic
def device_map(*, device: PacsDevice, cameras: list[Camera], actor: User | None) -> PacsDevice:
    """Set the cameras that see ``device`` (cameras of the integration's domain)."""
    domain_id = device.integration.domain_id
    strangers = [c.camera_id for c in cameras if c.domain_id != domain_id]
    if strangers:
        raise ValidationError({"camera_ids": [f"Not cameras of this domain: {strangers}."]})
    before = sorted(device.cameras.values_list("camera_id", flat=True))
    device.cameras.set(cameras)
    _audit(
        device.integration,
        actor,
        "pacs_device.mapped",
        before={"device": device.device_id, "cameras": before},
        after={"device": device.device_id, "cameras": sorted(c.camera_id for c in cameras)},
    )
    return device
