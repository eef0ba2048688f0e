"""Incident benchmark: Boxes post counter reports over HTTP to gunicorn; Celery workers
evaluate them (PostgreSQL + Redis). Two scenarios, one run:

- ``incidents-ingest``: counter values/s stored and evaluated, and the backlog left when
  posting stops (it must drain);
- ``box-burst``: one Box posts 50,000 reports (``upload_queue_length``, a rule without a
  window) stamped within 4 minutes, as fast as it can; seconds from the first post until
  the last report is evaluated (target: at most 60), with CPU per 1,000 reports.

Writes bench/results/<scenario>-<sha>.json.

    python bench/incidents.py            # 2 Boxes x 40 batches of 100 reports x 50 cameras x 6
    python bench/incidents.py --quick    # 2 x 8 batches; box-burst with 10,000 reports

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
BURST = "box-burst"
common.TARGETS[BURST] = ("seconds to evaluate", 60, "<=")
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
        box_burst(procs, base, 10_000 if args.quick else 50_000, facts, args)
    finally:
        procs.stop()


def burst_batch(start: datetime.datetime, first: int, size: int, spacing_ms: float,
                minimum: int) -> bytes:
    """Reports ``first``.. of the burst: every 500th one's queue above the domain's minimum
    (incidents open, 15 minutes of cooldown between them), the others below it."""
    reports = [{
        "report_id": f"burst-{i}",
        "time": (start + datetime.timedelta(milliseconds=spacing_ms * i)).isoformat(),
        "box": {"upload_queue_length": minimum + 5 if i % 500 == 0 else i % minimum},
    } for i in range(first, first + size)]
    return json.dumps({"reports": reports}).encode()


def box_burst(procs: object, base: str, total: int, facts: dict, args: object) -> None:
    """One Box's burst: ``total`` reports stamped within 4 minutes, 100 per request from 4
    threads; the time until the last one is evaluated."""
    from domains.models import Domain
    from incidents.models import CounterReport, Incident

    domain, [(device_id, token, _)] = prepare(1, 1)
    minimum = 10  # the domain's upload-queue minimum: the rule's threshold
    Domain.objects.filter(pk=domain.pk).update(
        min_upload_queue_length_for_incident_creation=minimum)
    start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=10)
    spacing = 240_000 / total
    bodies = [burst_batch(start, n, 100, spacing, minimum) for n in range(0, total, 100)]
    print(f"{BURST}: 1 Box x {total} reports (upload_queue_length) within 4 minutes, "
          f"{len(bodies)} requests of 100", flush=True)
    url, failures = f"{base}/api/devices/{device_id}/counters", []

    def client(part: list[bytes]) -> None:
        for body in part:
            answer = common.post_json(url, token, body)
            if len(answer["accepted"]) != 100:
                failures.append(str(answer)[:200])

    threads = [threading.Thread(target=client, args=(bodies[k::4],)) for k in range(4)]
    meter, started, posted, backlog_at_stop, _ = common.post_and_drain(
        procs, threads, unevaluated, "reports not yet evaluated")
    finished = time.time() - started
    used = meter.end(total / 1000)
    figures = {
        "measured": round(finished, 1), "reports": total, "posting_seconds": round(posted, 1),
        "backlog_at_stop": backlog_at_stop, "backlog_at_end": unevaluated(),
        "evaluated": CounterReport.objects.filter(evaluated_at__isnull=False).count(),
        "incidents": Incident.objects.count(), "failures": failures[:5], "cpu": used,
    }
    print(f"  {total} reports posted in {posted:.1f} s, all evaluated {finished:.1f} s after "
          f"the first post; {figures['incidents']} incidents; CPU ms per 1,000 reports: "
          + ", ".join(f"{k} {round(v, 1)}" for k, v in used["cpu_ms_per_unit"].items()),
          flush=True)
    common.write(BURST, figures, None, facts, args)


if __name__ == "__main__":
    main()
