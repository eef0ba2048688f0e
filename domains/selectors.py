"""Reads of domains data for the pages: a domain's audit log, who wrote it, and each
entry's change as rows."""

from __future__ import annotations

import json

from django.db.models import Q, QuerySet

from domains.models import AuditEntry, Domain


def audit_entries(domain: Domain, actor: str = "", target: str = "") -> QuerySet[AuditEntry]:
    """The domain's audit entries, newest first: by ``actor`` (an e-mail, or "system") and
    about ``target`` (an object's id, type or name) when given."""
    entries = AuditEntry.objects.filter(domain=domain)
    if actor:
        entries = entries.filter(actor_email="" if actor == "system" else actor)
    if target:
        entries = entries.filter(
            Q(object_id=target) | Q(object_repr__icontains=target) | Q(object_type__iexact=target)
        )
    return entries.order_by("-created_at", "-id")


def audit_actors(domain: Domain) -> list[str]:
    """Who wrote the domain's audit entries ("system" for changes without a user)."""
    emails = AuditEntry.objects.filter(domain=domain).values_list("actor_email", flat=True)
    return sorted({email or "system" for email in emails})


def _shown(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def audit_changes(before: object, after: object) -> list[tuple[str, str, str]]:
    """An audit entry's change as (field, before, after) rows."""
    if isinstance(before, dict) or isinstance(after, dict):
        old = before if isinstance(before, dict) else {}
        new = after if isinstance(after, dict) else {}
        fields = list(old) + [k for k in new if k not in old]
        return [(str(k), _shown(old.get(k)), _shown(new.get(k))) for k in fields]
    if before is None and after is None:
        return []
    return [("", _shown(before), _shown(after))]
