"""Celery tasks: evaluate stored reports, sweep up missed ones, purge old ones."""

from __future__ import annotations

import logging

from celery import shared_task

from incidents import services

log = logging.getLogger(__name__)


@shared_task(name="incidents.evaluate")
def evaluate(report_ids: list[int]) -> int:
    """Judge these reports; safe to run twice (each report is judged once)."""
    return len(services.evaluate_reports(report_ids))


@shared_task(name="incidents.sweep")
def sweep() -> int:
    return services.evaluate_unevaluated()


@shared_task(name="incidents.retention")
def retention() -> dict[str, int]:
    return services.retention_purge()


def enqueue_evaluation(report_ids: list[int]) -> None:
    """Hand report ids to a worker; never raise (the sweeper evaluates them later)."""
    for start in range(0, len(report_ids), 200):
        chunk = report_ids[start : start + 200]
        try:
            evaluate.apply_async(args=[chunk])
        except Exception:
            log.exception(
                "enqueue failed for %d counter reports; the sweeper will take them", len(chunk)
            )
