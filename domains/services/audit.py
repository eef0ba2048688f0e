"""The audit log: one row per change, written inside the change's transaction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import models

from callbacks.delivery.outbox import publish
from domains.models import AuditEntry, Domain, User, audit_value


def snapshot_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``values`` (field name to value) as JSON-able values, secrets masked."""
    return audit_value(dict(values))


def snapshot(obj: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    """Return the named fields of ``obj`` as JSON-able values, secrets masked."""
    return snapshot_values({name: getattr(obj, name) for name in fields})


def audit_record(
    *,
    actor: User | None,
    action: str,
    domain: Domain | None,
    obj: models.Model | None = None,
    object_id: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Write one audit entry; call inside the transaction that makes the change."""
    return AuditEntry.objects.record(
        actor=actor,
        action=action,
        domain=domain,
        obj=obj,
        object_id=object_id,
        before=before,
        after=after,
    )


def delete_and_announce(
    *,
    obj: models.Model,
    fields: Iterable[str],
    public_id: str,
    event_type: str,
    payload: dict[str, Any],
    actor: User | None,
) -> None:
    """Delete ``obj``, audit it and publish ``event_type`` (call inside a transaction).

    ``payload`` is built by the caller before the delete, while relations still load.
    """
    before = snapshot(obj, fields)
    domain = obj.domain
    obj.delete()
    audit_record(
        actor=actor,
        action=event_type,
        domain=domain,
        obj=obj,
        object_id=before[public_id],
        before=before,
    )
    publish(domain=domain, type=event_type, object=payload)
