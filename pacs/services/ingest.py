"""Take a PACS's events: normalize each with its vendor's normalizer, keep the raw
event whole plus camio_metadata, store it against the cameras that see its door, or
pending relay; name each bad event; schedule the relay after commit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from django.db import IntegrityError, connections, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from domains.formats import camio_date
from pacs.models import (
    EventState,
    PacsDevice,
    PacsEvent,
    PacsIntegration,
    PacsLabel,
    vendor_id_digest,
)
from pacs.services.relay import schedule_flush
from pacs.vendors import NORMALIZERS, NormalizeError, camio_labels


@dataclass
class IngestResult:
    accepted: list[int] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    pending: int = 0

    def as_answer(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected}


def _labels(vendor: str) -> dict[str, str]:
    return dict(PacsLabel.objects.filter(vendor=vendor).values_list("code", "label"))


def _cameras_by_entry(integration: PacsIntegration, entries: set[str]) -> dict[str, list[int]]:
    mapped: dict[str, list[int]] = {}
    through = PacsDevice.cameras.through.objects.filter(
        pacsdevice__integration=integration, pacsdevice__device_id__in=entries
    ).values_list("pacsdevice__device_id", "camera_id")
    for entry, camera in through:
        mapped.setdefault(entry, []).append(camera)
    return mapped


def _build(index: int, raw: Any, integration: PacsIntegration, labels: dict[str, str]):
    if not isinstance(raw, dict):
        return {"event": ["An event is a JSON object."]}
    try:
        found = NORMALIZERS[integration.vendor].normalize(raw, integration.time_zone)
    except NormalizeError as exc:
        return {exc.field: [str(exc)]}
    label = labels.get(found.code) or found.fallback_label
    metadata = {
        "entry_id": found.entry_id,
        "date": camio_date(found.occurred_at),
        "labels": camio_labels(integration.vendor, label, found.occurred_at, found.extra_labels),
    }
    if integration.source_server:
        metadata["source_server"] = integration.source_server
    body = {**{k: v for k, v in raw.items() if k != "camio_metadata"}, "camio_metadata": metadata}
    return PacsEvent(
        integration=integration,
        domain_id=integration.domain_id,
        vendor_event_id=found.vendor_event_id,
        vendor_event_digest=vendor_id_digest(found.vendor_event_id),
        entry_id=found.entry_id,
        occurred_at=found.occurred_at,
        labels=metadata["labels"],
        body=body,
        state=EventState.PENDING,
    )


def _drop_duplicates(
    integration: PacsIntegration, rows: list[tuple[int, PacsEvent]], result: IngestResult
) -> list[tuple[int, PacsEvent]]:
    """Keep the rows whose vendor id (by its digest) is neither stored nor earlier in the batch."""
    digests = {row.vendor_event_digest for _, row in rows if row.vendor_event_digest}
    seen = (
        set(
            PacsEvent.objects.filter(
                integration=integration, vendor_event_digest__in=digests
            ).values_list("vendor_event_digest", flat=True)
        )
        if digests
        else set()
    )
    fresh = []
    for index, row in rows:
        digest = row.vendor_event_digest
        if digest and digest in seen:
            result.duplicates.append(index)
            continue
        if digest:
            seen.add(digest)
        fresh.append((index, row))
    return fresh


def _adapter(field: models.Field, db: BaseDatabaseWrapper) -> Callable[[Any], Any] | None:
    """How a value of ``field`` goes to the database (None: as it is)."""
    if isinstance(field, models.JSONField):
        return lambda value: db.ops.adapt_json_value(value, field.encoder)
    if isinstance(field, models.DateTimeField):
        return db.ops.adapt_datetimefield_value
    if isinstance(field, models.UUIDField):
        return lambda value: field.get_db_prep_value(value, db)
    return None


def _insert(rows: list[PacsEvent]) -> None:
    """INSERT the rows with one executemany: on PostgreSQL, Django's bulk_create sends
    arrays that the driver quotes slowly for large JSON values."""
    if not rows:
        return
    db = connections[PacsEvent.objects.db]  # the object itself: the proxy's lookups add up
    fields = PacsEvent._meta.concrete_fields
    # Concrete fields are those with a column; the stubs type every field's column as optional.
    columns = ", ".join(db.ops.quote_name(cast(str, f.column)) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {PacsEvent._meta.db_table} ({columns}) VALUES ({marks})"  # noqa: S608
    plan = [(f.attname, _adapter(f, db)) for f in fields]
    params = [
        [adapt(row.__dict__[name]) if adapt else row.__dict__[name] for name, adapt in plan]
        for row in rows
    ]
    with db.cursor() as cursor:
        cursor.executemany(sql, params)


def _store(integration: PacsIntegration, fresh: list[tuple[int, PacsEvent]]) -> int:
    mapped = _cameras_by_entry(integration, {row.entry_id for _, row in fresh})
    for _, row in fresh:
        if row.entry_id in mapped:
            row.state = EventState.MAPPED
    with transaction.atomic():
        _insert([row for _, row in fresh])
        PacsEvent.cameras.through.objects.bulk_create(
            [
                PacsEvent.cameras.through(pacsevent_id=row.pk, camera_id=camera)
                for _, row in fresh
                if row.state == EventState.MAPPED
                for camera in mapped[row.entry_id]
            ]
        )
    return sum(1 for _, row in fresh if row.state == EventState.PENDING)


def ingest_events(*, integration: PacsIntegration, events: list[Any]) -> IngestResult:
    """Store ``events`` of ``integration`` in one transaction; say what became of each."""
    result = IngestResult()
    labels = _labels(integration.vendor)
    rows = []
    for index, raw in enumerate(events):
        built = _build(index, raw, integration, labels)
        if isinstance(built, PacsEvent):
            rows.append((index, built))
        else:
            result.rejected.append({"index": index, "errors": built})
    for attempt in range(2):
        fresh = _drop_duplicates(integration, rows, result)
        try:
            result.pending = _store(integration, fresh)
            break
        except IntegrityError:  # the same event arrived concurrently: sort again
            if attempt:
                raise
            result.duplicates.clear()
    result.accepted = [index for index, _ in fresh]
    if result.pending:
        integration_id = integration.integration_id
        transaction.on_commit(lambda: schedule_flush(integration_id))
    return result
