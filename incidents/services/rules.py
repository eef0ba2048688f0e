"""Counter rules: support staff edit them in the admin and can go back to Camio's defaults."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from domains.models import AuditEntry, User
from incidents.default_rules import DEFAULT_RULES, default_rule
from incidents.models import CounterRule


@transaction.atomic
def rule_update(*, rule: CounterRule, before: dict[str, Any], actor: User | None) -> CounterRule:
    """Save ``rule`` with the values support staff set on it and audit the change; ``before``
    holds the changed fields' earlier values."""
    rule.updated_at = timezone.now()
    rule.save()
    AuditEntry.objects.record(
        actor=actor, action="counter_rule.updated", obj=rule, object_id=rule.counter, before=before,
        after={name: getattr(rule, name) for name in before},
    )
    return rule


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
            actor=actor, action="counter_rule.reset", object_id=name,
            after={k: v for k, v in fields.items() if k != "description"},
        )
    return len(names)
