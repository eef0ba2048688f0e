"""User hooks: saved video-search subscriptions; creating and deleting emit hook.*."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from domains.models import Hook, User
from domains.services.audit import create_and_announce, delete_and_announce

HOOK_FIELDS = ("hook_id", "callback_url", "type", "parsed_query", "owner")


def owner_key(hook: Hook) -> str:
    """The order key of a hook's events: its owner."""
    return f"user:{hook.owner.user_id}"


def hook_payload(hook: Hook) -> dict[str, Any]:
    """The data.object of hook.created and hook.deleted."""
    return {
        "hook": {
            "hook_id": hook.hook_id,
            "callback_url": hook.callback_url,
            "type": hook.type,
            "parsed_query": hook.parsed_query,
        },
        "user": hook.owner.as_payload(),
    }


@transaction.atomic
def hook_create(
    *, owner: User, callback_url: str, type: str, parsed_query: str, actor: User | None = None
) -> Hook:
    """Save a hook for ``owner`` (a user of a registered domain); emits hook.created."""
    hook = Hook(
        owner=owner,
        # None for an owner without a domain: full_clean then refuses the owner.
        domain_id=owner.domain_id,  # type: ignore[misc]
        callback_url=(callback_url or "").strip(),
        type=type,
        parsed_query=(parsed_query or "").strip(),
    )
    return create_and_announce(
        obj=hook,
        fields=HOOK_FIELDS,
        actor=actor or owner,
        payload=hook_payload,
        order_key=owner_key(hook),
    )


@transaction.atomic
def hook_delete(*, hook: Hook, actor: User | None = None) -> None:
    """Delete a hook; emits hook.deleted."""
    delete_and_announce(
        obj=hook, fields=HOOK_FIELDS, actor=actor, payload=hook_payload,
        order_key=owner_key(hook),
    )
