"""Deleting an inventory object or hook with its audit entry and its event, in the
caller's transaction. Audit entries are written with ``AuditEntry.objects.record``
(the one way), their values with ``domains.models.snapshot``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from callbacks.delivery.outbox import publish
from domains.models import AuditEntry, OwnedByDomainUser, User, snapshot


def delete_and_announce(
    *,
    obj: OwnedByDomainUser,
    fields: Iterable[str],
    public_id: str,
    event_type: str,
    payload: dict[str, Any],
    actor: User | None,
    order_key: str,
) -> None:
    """Delete ``obj``, audit it and publish ``event_type`` (call inside a transaction).

    ``payload`` and ``order_key`` are built by the caller before the delete, while
    relations still load.
    """
    before = snapshot(obj, fields)
    domain = obj.domain
    obj.delete()
    AuditEntry.objects.record(
        actor=actor,
        action=event_type,
        domain=domain,
        obj=obj,
        object_id=before[public_id],
        before=before,
    )
    publish(domain=domain, type=event_type, object=payload, order_key=order_key)
