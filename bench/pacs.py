"""PACS benchmark: a gateway posts batches of 500 events over HTTP to /pacs/webhooks
(gunicorn); Celery workers relay them, N per pacs.events.created, to a loopback
receiver (PostgreSQL + Redis). Prints events/s ingested and relayed and the backlog
left when posting stops (it must drain); writes bench/results/pacs-relay-<sha>.json.

    python bench/pacs.py            # 2 gateways x 20 batches of 500 events
    python bench/pacs.py --quick    # 2 x 4
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import run as common  # noqa: E402  (bench/run.py: configuration, processes, results)

SCENARIO = "pacs-relay"
common.TARGETS[SCENARIO] = ("PACS events/s", 5000, ">=")


def reset() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE pacs_pacsevent, pacs_pacsevent_cameras, pacs_pacsdevice, "
                       "pacs_pacsintegration, callbacks_attempt, callbacks_delivery, "
                       "callbacks_event, callbacks_endpointhourlystat, callbacks_replayjob, "
                       "callbacks_endpoint CASCADE")


def prepare(gateways: int, receiver_url: str) -> list[str]:
    """Fresh bench.test data: one endpoint for pacs.events.created, one integration (and
    token) per gateway; return the tokens."""
    from callbacks.services import endpoint_create
    from domains import services
    from domains.models import Domain, User
    from pacs.services import devices_replace, integration_create, integration_token_issue

    domain = Domain.objects.filter(name="bench.test").first() or services.domain_register(
        name="bench.test", admin_email="admin@bench.test", invite=False)
    owner = User.objects.get(email="admin@bench.test")
    endpoint_create(domain=domain, url=f"{receiver_url}/pacs",
                    event_types=["pacs.events.created"], actor=None)
    tokens = []
    for g in range(gateways):
        integration = integration_create(owner=owner, vendor="onguard", name=f"Gateway {g}",
                                         source_server=f"gw{g}.bench.test:443")
        devices_replace(integration=integration, devices=[
            {"device_id": f"1_{d}", "device_name": f"Reader {d}"} for d in range(50)])
        tokens.append(integration_token_issue(integration=integration, actor=None)[1])
    return tokens


def batch(gateway: int, number: int, size: int) -> bytes:
    events = [{
        "badge_id": 0, "controller_id": 1, "cardholder_key": 0, "event_type": 4,
        "event_subtype": 10, "device_id": i % 50, "device_name": f"Reader {i % 50}",
        "serial_number": (gateway * 1_000_000) + number * size + i,
        "timestamp": "2021-01-29T01:14:33.000000",
    } for i in range(size)]
    return json.dumps({"events": events}).encode()


def pending() -> int:
    from pacs.models import EventState, PacsEvent

    return PacsEvent.objects.filter(state=EventState.PENDING).count()


def relayed_in_callbacks(receiver_url: str) -> int:
    return int(common.http(f"{receiver_url}/_count"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateways", type=int, default=2, help="gateways posting at once")
    parser.add_argument("--batches", type=int, default=20, help="batches of 500 per gateway")
    args = common.standalone(parser, "PACS", quick_batches=4)
    batches = args.batches
    facts = common.machine()
    reset()  # before any worker starts: old rows may be encrypted with another run's key
    procs = common.Processes(args.workers)
    try:
        tokens = prepare(args.gateways, procs.url)
        common.http(f"{procs.url}/_reset", "POST")
        base = common.start_web(procs, args.web)
        bodies = [[batch(g, n, 500) for n in range(batches)] for g in range(args.gateways)]
        total = args.gateways * batches * 500
        print(f"{SCENARIO}: {args.gateways} gateways x {batches} batches of 500 events = "
              f"{total} events", flush=True)
        failures: list[str] = []

        def gateway(index: int) -> None:
            for number, body in enumerate(bodies[index]):
                answer = common.post_json(f"{base}/pacs/webhooks", tokens[index], body)
                if len(answer["accepted"]) != 500:
                    failures.append(f"gateway {index} batch {number}: {answer}")

        clients = [threading.Thread(target=gateway, args=(g,)) for g in range(args.gateways)]
        meter, started, posted, backlog_at_stop, drain_deadline = common.post_and_drain(
            procs, clients, pending, "events not yet relayed"
        )
        relayed = time.time() - started
        from callbacks.models import Event

        callbacks = Event.objects.filter(type="pacs.events.created").count()
        while (relayed_in_callbacks(procs.url) < callbacks
               and time.monotonic() < drain_deadline):
            time.sleep(0.2)
        delivered = time.time() - started
        used = meter.end(total)
        figures = {
            "measured": round(total / relayed), "events": total,
            "ingest_events_per_s": round(total / posted), "seconds_relayed": round(relayed, 2),
            "seconds_delivered": round(delivered, 2), "backlog_at_stop": backlog_at_stop,
            "backlog_at_end": pending(), "callbacks": callbacks,
            "callbacks_received": relayed_in_callbacks(procs.url), "failures": failures[:5],
            "web_workers": args.web, "cpu": used,
        }
        print("  CPU ms per event: " + ", ".join(
            f"{k} {v}" for k, v in used["cpu_ms_per_unit"].items()), flush=True)
        print(f"  ingested and relayed {figures['measured']} events/s (ingest alone "
              f"{figures['ingest_events_per_s']}/s) in {callbacks} callbacks; all received "
              f"after {delivered:.1f} s; backlog at the end: {figures['backlog_at_end']}",
              flush=True)
        common.write(SCENARIO, figures, None, facts, args)
    finally:
        procs.stop()


if __name__ == "__main__":
    main()
