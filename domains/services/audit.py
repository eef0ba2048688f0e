"""The audit log: one row per change, written inside the change's transaction."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import models

from domains.models import AuditEntry, Domain, User

SECRET_NAME = re.compile(r"authorization|cookie|token|secret|key|password|signature", re.I)
MASK = "••••••"


def _jsonable(value: Any) -> Any:
    if isinstance(value, models.Model):
        for attr in ("user_id", "device_id", "camera_id", "zone_id"):
            public = value.__dict__.get(attr)
            if isinstance(public, str):
                return public
        return str(value)
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: (MASK if SECRET_NAME.search(str(k)) else _jsonable(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def snapshot_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``values`` (field name to value) as JSON-able values, secrets masked."""
    return {
        name: MASK if SECRET_NAME.search(name) else _jsonable(value)
        for name, value in values.items()
    }


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
    real_actor = actor if actor is not None and actor.pk else None
    return AuditEntry.objects.create(
        actor=real_actor,
        actor_email=real_actor.email if real_actor else "",
        domain=domain,
        action=action,
        object_type=obj._meta.model_name if obj is not None else "",
        object_id=object_id or (_jsonable(obj) if obj is not None else ""),
        object_repr=str(obj)[:300] if obj is not None else "",
        before=before,
        after=after,
    )
