"""Incident benchmark: Boxes post counter reports over HTTP to gunicorn; Celery workers
evaluate them (PostgreSQL + Redis). Prints counter values/s stored and evaluated and the
backlog left when posting stops (it must drain); writes bench/results/incidents-<sha>.json.

    python bench/incidents.py            # 2 Boxes x 40 batches of 100 reports x 50 cameras x 6
    python bench/incidents.py --quick    # 2 x 8 batches

Runs in production mode against DATABASE_URL / CELERY_BROKER_URL (defaults: the local
servers, database camio_bench, Redis db 14). Throttling is off for the run.
"""

from __future__ import annotations

import argparse
import datetime
import json
import random
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import run as common  # noqa: E402  (bench/run.py: configuration, processes, results)

SCENARIO = "incidents-ingest"
common.TARGETS[SCENARIO] = ("counter values/s", 20000, ">=")
COUNTERS = (
    "stream_changed_offline_count",
    "movies_discarded_count",
    "events_purged_count",
    "movies_purged_count",
    "segmentation_process_restart_count",
    "frames_dropped_count",  # a counter no rule knows: stored all the same
)


def prepare(boxes: int, cameras: int) -> list[tuple[str, str, list[str]]]:
    """Return (device_id, Box token, camera ids) per Box, on a fresh bench.test domain."""
    from django.db import connection

    from domains import services
    from domains.models import Domain, User

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE incidents_counterreport, incidents_countersample, "
                       "incidents_counterminute, incidents_incident, incidents_countertrip, "
                       "incidents_evaluationlock, callbacks_delivery, callbacks_event CASCADE")
    domain = Domain.objects.filter(name="bench.test").first() or services.domain_register(
        name="bench.test", admin_email="admin@bench.test", invite=False)
    owner = User.objects.get(email="admin@bench.test")
    result = []
    for b in range(boxes):
        device = services.device_create(owner=owner, name=f"Bench Box {b} {time.time():.0f}")
        ids = [services.camera_create(owner=owner, device=device, name=f"Cam {b}.{c}").camera_id
               for c in range(cameras)]
        _, token = services.token_issue(kind="box", user=None, name="bench", device=device,
                                        actor=None)
        result.append((device.device_id, token, ids))
    return domain, result


def batch(camera_ids: list[str], start: datetime.datetime, first: int, size: int,
          rng: random.Random) -> bytes:
    reports = []
    for i in range(first, first + size):
        at = start + datetime.timedelta(milliseconds=250 * i)
        reports.append({
            "report_id": f"r{i}",
            "time": at.isoformat(),
            "cameras": {cid: {c: (rng.randint(1, 3) if rng.random() < 0.05 else 0)
                              for c in COUNTERS} for cid in camera_ids},
        })
    return json.dumps({"reports": reports}).encode()


def unevaluated() -> int:
    from incidents.models import CounterReport

    return CounterReport.objects.filter(evaluated_at__isnull=True).count()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boxes", type=int, default=2, help="Boxes posting at once")
    parser.add_argument("--batches", type=int, default=40, help="batches per Box")
    args = common.standalone(parser, "BOX", quick_batches=8)
    batches = args.batches
    from incidents.services import rules_reset

    rules_reset(actor=None)
    facts = common.machine()
    _, boxes = prepare(args.boxes, 50)  # before any worker starts (old rows, old keys)
    procs = common.Processes(args.workers)
    try:
        base = common.start_web(procs, args.web)
        start_time = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=40)
        rng = random.Random(7)  # noqa: S311 (repeatable load, not secrets)
        bodies = {device_id: [batch(ids, start_time, n * 100, 100, rng) for n in range(batches)]
                  for device_id, _, ids in boxes}
        values = sum(len(ids) for _, _, ids in boxes) * len(COUNTERS) * 100 * batches
        print(f"{SCENARIO}: {args.boxes} Boxes x {batches} batches of 100 reports x 50 cameras "
              f"x {len(COUNTERS)} counters = {values} values", flush=True)
        failures: list[str] = []

        def box_client(device_id: str, token: str) -> None:
            url = f"{base}/api/devices/{device_id}/counters"
            for number, body in enumerate(bodies[device_id]):
                answer = common.post_json(url, token, body)
                if len(answer["accepted"]) != 100:
                    failures.append(f"{device_id} batch {number}: {answer}")
                if number % 10 == 9:
                    print(f"  {device_id[:6]}: {number + 1}/{batches} batches posted", flush=True)

        clients = [threading.Thread(target=box_client, args=(d, t)) for d, t, _ in boxes]
        meter, started, posted, backlog_at_stop, _ = common.post_and_drain(
            procs, clients, unevaluated, "reports not yet evaluated"
        )
        elapsed = time.time() - started
        used = meter.end(values)
        backlog = unevaluated()
        from incidents.models import CounterSample, Incident

        figures = {
            "measured": round(values / elapsed), "values": values, "seconds": round(elapsed, 2),
            "ingest_values_per_s": round(values / posted), "backlog_at_stop": backlog_at_stop,
            "backlog_at_end": backlog, "samples_stored": CounterSample.objects.count(),
            "incidents": Incident.objects.count(), "failures": failures[:5],
            "web_workers": args.web, "cpu": used,
        }
        print("  CPU ms per 1,000 values: " + ", ".join(
            f"{k} {round(v * 1000, 3)}" for k, v in used["cpu_ms_per_unit"].items()), flush=True)
        print(f"  stored and evaluated {figures['measured']} values/s "
              f"(ingest alone {figures['ingest_values_per_s']}/s); backlog at the end: {backlog}; "
              f"{figures['incidents']} incidents", flush=True)
        common.write(SCENARIO, figures, None, facts, args)
    finally:
        procs.stop()


if __name__ == "__main__":
    main()
