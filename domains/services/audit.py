"""Creating and deleting an inventory object or hook with its audit entry and its event,
in the caller's transaction. Audit entries are written with ``AuditEntry.objects.record``
(the one way), their values with ``domains.models.snapshot``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from callbacks.publishing import publish
from domains.models import AuditEntry, OwnedByDomainUser, User, snapshot


def create_and_announce(
    *,
    obj: OwnedByDomainUser,
    fields: Iterable[str],
    actor: User | None,
    payload: Callable[[Any], dict[str, Any]] | None = None,
    order_key: str = "",
) -> Any:
    """Validate and save the new ``obj``, audit it as ``<model>.created`` and, given a
    ``payload`` builder, publish that event (call inside a transaction); return ``obj``."""
    obj.full_clean()
    obj.save()
    action = f"{obj._meta.model_name}.created"
    AuditEntry.objects.record(actor=actor, action=action, obj=obj, after=snapshot(obj, fields))
    if payload is not None:
        publish(domain=obj.domain, type=action, object=payload(obj), order_key=order_key)
    return obj


def delete_and_announce(
    *,
    obj: OwnedByDomainUser,
    fields: Iterable[str],
    actor: User | None,
    payload: Callable[[Any], dict[str, Any]],
    order_key: str,
) -> None:
    """Delete ``obj``, audit it and publish ``<model>.deleted`` (call inside a transaction).

    The payload is built, and ``order_key`` by the caller, before the delete, while
    relations still load; the entry names the object by its public id (``<model>_id``).
    """
    name = obj._meta.model_name
    before = snapshot(obj, fields)
    data = payload(obj)
    domain = obj.domain
    obj.delete()
    AuditEntry.objects.record(
        actor=actor, action=f"{name}.deleted", domain=domain, obj=obj,
        object_id=before[f"{name}_id"], before=before,
    )
    publish(domain=domain, type=f"{name}.deleted", object=data, order_key=order_key)
