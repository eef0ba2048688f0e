"""Counter rules: support staff edit them in the admin and can go back to Camio's defaults."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from domains.models import AuditEntry, User
from incidents.models import CounterRule
from incidents.rules import DEFAULT_RULES, default_rule


@transaction.atomic
def rules_reset(*, actor: User | None, counters: list[str] | None = None) -> int:
    """Put the default rules back (all, or those of ``counters``); return how many."""
    names = counters or [rule["counter"] for rule in DEFAULT_RULES]
    for name in names:
        fields = default_rule(name)
        fields.pop("counter")
        CounterRule.objects.update_or_create(
            counter=name, defaults={**fields, "updated_at": timezone.now()}
        )
        AuditEntry.objects.record(
            actor=actor,
            action="counter_rule.reset",
            domain=None,
            object_id=name,
            after={k: v for k, v in fields.items() if k != "description"},
        )
    return len(names)
