"""Re-encrypt stored values under the first key of FIELD_ENCRYPTION_KEYS, so the keys
after it can be removed.

Work goes by primary key in short transactions, one batch each, rows locked while
they are rewritten; a value the first key already reads is left alone, so an
interrupted run is resumed by running it again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from cryptography.fernet import Fernet, InvalidToken
from django.apps import apps
from django.conf import settings
from django.db import models, transaction
from django.db.models.functions import Cast

from callbacks.encrypted_fields import EncryptedJSONField, EncryptedTextField, fernet


@dataclass
class Rotation:
    """What a run did: rows read, values re-encrypted, values already under the first key,
    and the (model label, primary key, field) of values no configured key reads."""

    rows: int = 0
    rotated: int = 0
    current: int = 0
    unreadable: list[tuple[str, object, str]] = field(default_factory=list)


def encrypted_fields() -> list[tuple[type[models.Model], list[str]]]:
    """Return every model with encrypted fields, and the names of those fields."""
    found = []
    for model in apps.get_models():
        names = [
            f.name for f in model._meta.concrete_fields
            if isinstance(f, EncryptedTextField | EncryptedJSONField)
        ]
        if names:
            found.append((model, names))
    return found


def rotate_model(
    model: type[models.Model], names: list[str], batch_size: int, done: Rotation
) -> Iterator[int]:
    """Re-encrypt ``names`` of every row of ``model``; yield the rows done after each batch."""
    after = None
    while True:
        with transaction.atomic():
            rows = list(_batch(model, names, after, batch_size))
            for pk, *tokens in rows:
                _rotate_row(model, pk, dict(zip(names, tokens, strict=True)), done)
        if not rows:
            return
        after = rows[-1][0]
        done.rows += len(rows)
        yield len(rows)


def _batch(model: type[models.Model], names: list[str], after: object, size: int) -> list:
    """Lock and return the next ``size`` rows after ``after``: the primary key, then each
    field's stored token (cast to text, so it is not decrypted)."""
    raw = {f"raw_{name}": Cast(name, models.TextField()) for name in names}
    rows = model._base_manager.select_for_update().order_by("pk").annotate(**raw)
    if after is not None:
        rows = rows.filter(pk__gt=after)
    return list(rows.values_list("pk", *raw)[:size])


def _rotate_row(
    model: type[models.Model], pk: object, tokens: dict[str, str | None], done: Rotation
) -> None:
    first = Fernet(settings.FIELD_ENCRYPTION_KEYS[0])
    changes = {}
    for name, token in tokens.items():
        if token is None:
            continue
        try:
            first.decrypt(token.encode())
            done.current += 1
            continue
        except InvalidToken:
            pass
        try:
            rotated = fernet().rotate(token.encode()).decode()
        except InvalidToken:
            done.unreadable.append((model._meta.label, pk, name))
            continue
        # A plain text value: the field would encrypt an already encrypted token again.
        changes[name] = models.Value(rotated, output_field=models.TextField())
        done.rotated += 1
    if changes:
        model._base_manager.filter(pk=pk).update(**changes)
