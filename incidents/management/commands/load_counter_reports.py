"""Load counter reports from a JSON-lines file (history, or a replay of a Box's reports).

Each line is one report plus the Box's id: ``{"device_id": "...", "time": "...",
"cameras": {...}, "box": {...}, "report_id": "..."}``. By default every report is
historical: judged, stored, and nothing is published. ``--publish`` publishes
incident.created for reports newer than INCIDENT_MAX_AGE.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from domains.models import Device
from incidents import services

CHUNK = 500


class Command(BaseCommand):
    help = "Store and evaluate counter reports from a JSON-lines file, with a progress bar."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--publish",
            action="store_true",
            help="Publish incident.created for reports newer than INCIDENT_MAX_AGE.",
        )

    def handle(self, *args: Any, file: Path, publish: bool, **options: Any) -> None:
        if not file.exists():
            raise CommandError(f"No file {file}.")
        total = sum(1 for _ in file.open(encoding="utf-8"))
        self.counts = {"stored": 0, "duplicates": 0, "rejected": 0, "incidents": 0}
        self.problems: list[str] = []
        pending: list[tuple[int, dict]] = []
        device_id = None
        # A bar on a terminal; silent when stderr is a file or a job runner's pipe.
        stream = getattr(self.stderr, "_out", self.stderr)
        with (
            file.open(encoding="utf-8") as lines,
            tqdm(total=total, unit="lines", file=stream, disable=None, mininterval=0.5) as bar,
        ):
            for number, line in enumerate(lines, start=1):
                bar.update(1)
                report = self.parse(number, line)
                if report is None:
                    continue
                if report.get("device_id") != device_id or len(pending) >= CHUNK:
                    self.flush(device_id, pending, publish)
                    pending, device_id = [], report.get("device_id")
                pending.append((number, {k: v for k, v in report.items() if k != "device_id"}))
            self.flush(device_id, pending, publish)
        for problem in self.problems[:20]:
            self.stderr.write(problem)
        if len(self.problems) > 20:
            self.stderr.write(f"... and {len(self.problems) - 20} more")
        c = self.counts
        self.stdout.write(
            f"{c['stored']} stored, {c['duplicates']} duplicates, {c['rejected']} rejected; "
            f"{c['incidents']} incidents opened"
            + ("" if publish else " (historical: nothing published)")
        )

    def parse(self, number: int, line: str) -> dict | None:
        if not line.strip():
            return None
        try:
            report = json.loads(line)
        except ValueError as exc:
            self.reject(number, f"not JSON ({exc})")
            return None
        if not isinstance(report, dict) or not isinstance(report.get("device_id"), str):
            self.reject(number, "a line is a JSON object with a device_id")
            return None
        return report

    def reject(self, number: int, why: str) -> None:
        self.counts["rejected"] += 1
        self.problems.append(f"line {number}: {why}")

    def flush(self, device_id: str | None, pending: list[tuple[int, dict]], publish: bool) -> None:
        if not pending:
            return
        device = Device.objects.filter(device_id=device_id).first()
        if device is None:
            for number, _ in pending:
                self.reject(number, f"no Box {device_id!r}")
            return
        result = services.ingest_reports(
            device=device, reports=[r for _, r in pending], historical=not publish
        )
        for item in result.rejected:
            self.reject(pending[item["index"]][0], json.dumps(item["errors"]))
        self.counts["stored"] += len(result.accepted)
        self.counts["duplicates"] += len(result.duplicates)
        self.counts["incidents"] += len(services.evaluate_reports(result.report_ids))
