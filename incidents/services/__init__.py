"""Counter reports in (ingest), incidents out (evaluate), old reports away (retention)."""

from incidents.services.evaluate import (
    evaluate_box,
    evaluate_reports,
    evaluate_unevaluated,
    request_evaluation,
    subject_for,
)
from incidents.services.ingest import BatchResult, ingest_reports, parse_time
from incidents.services.retention import retention_purge
from incidents.services.rules import rule_update, rules_reset

__all__ = [
    "BatchResult",
    "evaluate_box",
    "evaluate_reports",
    "evaluate_unevaluated",
    "ingest_reports",
    "parse_time",
    "request_evaluation",
    "retention_purge",
    "rule_update",
    "rules_reset",
    "subject_for",
]
