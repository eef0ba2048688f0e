"""Celery tasks (queue ``incidents``; retention on ``maintenance``): evaluate Boxes'
stored reports, sweep up missed ones, purge old ones."""

from __future__ import annotations

from celery import shared_task

from incidents import services


@shared_task(name="incidents.evaluate_box")
def evaluate_box(device_pks: list[int]) -> int:
    """Evaluate each Box's unevaluated reports; safe to run twice (each report is judged
    once, and a Box another runner holds is given back)."""
    return sum(services.evaluate_box(pk).evaluated for pk in device_pks)


@shared_task(name="incidents.evaluate")
def evaluate(report_ids: list[int]) -> int:
    """Messages queued before evaluation went per Box: judge these reports."""
    return len(services.evaluate_reports(report_ids))


@shared_task(name="incidents.sweep")
def sweep() -> int:
    return services.evaluate_unevaluated()


@shared_task(name="incidents.retention")
def retention() -> dict[str, int]:
    return services.retention_purge()
