"""Delivery benchmark: the real publish(), real Celery workers, PostgreSQL + Redis,
and a loopback receiver. Prints its figures and writes bench/results/<scenario>-<sha>.json.

    python bench/run.py                      # every scenario
    python bench/run.py fanout-1 steady-200  # some
    python bench/run.py --quick              # shorter runs, for a smoke check

Needs PostgreSQL and Redis (DATABASE_URL, CELERY_BROKER_URL; defaults: the local
servers, database camio_bench, Redis db 14). Runs in production mode.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import cpu  # noqa: E402  (bench/cpu.py)

# scenario: (unit, target, sense); "% of ceiling" targets are checked on the ratio to
# the same run's ceiling, which machine noise moves far less than deliveries/s.
TARGETS = {
    "fanout-1": ("% of ceiling", 25, ">="),
    "fanout-10": ("% of ceiling", 30, ">="),
    "fanout-10-filtered": ("% publisher CPU over fanout-10", 5, "<="),
    "fanout-10-ed25519": ("% CPU per delivery over fanout-10", 10, "<="),
    "steady-200": ("p99 ms", 25, "<="),
    "steady-500": ("p99 ms", 50, "<="),
    "hanging-1-of-10": ("p99 ratio", 2.0, "<="),
    "flood-isolation": ("p99 ratio", 2.0, "<="),
    "ordered-fanout": ("% of unordered", 75, ">="),
    "outage": ("deliveries failed", 0, "<="),
    "slow-tenant": ("p99 ratio", 2.0, "<="),
    "worker-kill": ("s longest gap", 10.0, "<="),
}
# The outage scenario's workers: a retry schedule of about 4 s, the breaker after 10
# failures, probes every 1-2 s, the sweeper (which sends probes) every 0.5 s.
OUTAGE_ENV = {
    "CALLBACK_RETRY_SCHEDULE": "0,1,1,1,1",
    "CALLBACK_RETRY_JITTER": "0",
    "CALLBACK_BREAKER_FAILURES": "10",
    "CALLBACK_BREAKER_PROBE_MIN": "1",
    "CALLBACK_BREAKER_PROBE_MAX": "2",
    "CALLBACK_SWEEP_INTERVAL": "0.5",
}
# CPU per delivery at most this multiple of the ceiling's CPU per request (fanout-10).
CPU_TARGETS = {"fanout-10": 4.0}
# CPU per delivery (every component's) at most this many milliseconds.
CPU_MS_TARGETS = {"steady-500": 2.5, "fanout-1": 0.5}


def configure() -> dict[str, str]:
    from cryptography.fernet import Fernet

    env = {
        "CAMIO_MODE": "production",
        "DATABASE_URL": os.environ.get(
            "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/camio_bench"
        ),
        "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/14"),
        "CACHE_URL": os.environ.get("CACHE_URL", "redis://127.0.0.1:6379/12"),
        "SECRET_KEY": "bench-" + "x" * 60,
        "FIELD_ENCRYPTION_KEYS": os.environ.get("BENCH_FIELD_KEY", Fernet.generate_key().decode()),
        "ALLOWED_HOSTS": "127.0.0.1",
        "CALLBACK_ALLOWED_NETWORKS": "127.0.0.0/8",
        "LOG_LEVEL": "WARNING",
        "EMAIL_URL": "consolemail://",
        "PYTHONUNBUFFERED": "1",
    }
    os.environ.update(env)
    os.environ["BENCH_FIELD_KEY"] = env["FIELD_ENCRYPTION_KEYS"]
    return env


def standalone(parser: argparse.ArgumentParser, throttle: str,
               quick_batches: int) -> argparse.Namespace:
    """The shared start of bench/incidents.py and bench/pacs.py: their common options
    (--quick, which posts ``quick_batches`` batches, --workers, --web), the settings,
    ``throttle`` (API_THROTTLE_<NAME>) off and plain loopback HTTP, a database, Django and an
    empty broker. Returns the options."""
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--web", type=int, default=2, help="gunicorn worker processes")
    args = parser.parse_args()
    if args.quick:
        args.batches = quick_batches
    RESULTS.mkdir(parents=True, exist_ok=True)
    env = configure()
    for what in ("", "_REPORTS", "_EVENTS"):  # requests, and what they carry
        os.environ[f"API_THROTTLE_{throttle}{what}"] = ""
    os.environ["SECURE_SSL_REDIRECT"] = "false"
    if env["DATABASE_URL"].startswith("postgres"):
        ensure_database(env["DATABASE_URL"])
    setup_django()
    purge_broker()
    return args


def post_and_drain(procs: Processes, clients: list, backlog: Callable[[], int],
                   what: str) -> tuple[Any, float, float, int, float]:
    """Start the meter, run the ``clients`` threads to the end, then wait (up to 300 s) for
    ``backlog()`` to reach 0. Returns the running meter, the start time, how long posting took,
    the backlog when it stopped and the deadline (monotonic) any later wait shares."""
    meter = procs.meter()
    meter.begin()
    started = time.time()
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join()
    posted = time.time() - started
    backlog_at_stop = backlog()
    print(f"  posting done in {posted:.1f} s; {backlog_at_stop} {what}", flush=True)
    drain_deadline = time.monotonic() + 300
    while backlog() and time.monotonic() < drain_deadline:
        time.sleep(0.1)
    return meter, started, posted, backlog_at_stop, drain_deadline


def ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_django() -> None:
    import django
    from django.core.management import call_command

    os.environ["DJANGO_SETTINGS_MODULE"] = "camio_portal.settings.production"
    django.setup()
    call_command("migrate", verbosity=0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http(url: str, method: str = "GET") -> str:
    request = urllib.request.Request(url, method=method)  # noqa: S310 (loopback receiver)
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        return answer.read().decode()


def worker_command(role: str, number: int) -> list[str]:
    """A delivery worker is one solo process (its dispatcher's threads do the concurrency);
    the worker for the rest runs two pool processes at a lower CPU priority, as the
    production commands of docs/operations.md."""
    from django.conf import settings

    if role == "deliveries":
        nice, pool = [], ["--pool", "solo"]
    else:
        nice, pool = ["nice", "-n", "10"], ["--pool", "prefork", "--concurrency", "2"]
    return [*nice, sys.executable, "-m", "celery", "-A", "camio_portal", "worker", *pool,
            "--queues", ",".join(settings.WORKER_QUEUES[role]), "--hostname",
            f"{role}-{number}@%h", "--without-gossip", "--without-mingle",
            "--without-heartbeat", "--loglevel",
            os.environ.get("BENCH_WORKER_LOGLEVEL", "WARNING")]


class Processes:
    """The receiver, the workers (N delivery, one for the rest) and beat, each in its own
    process group; ``components`` names their pids for the CPU meter."""

    def __init__(self, workers: int, env: dict[str, str] | None = None) -> None:
        self.env = {**os.environ, **(env or {})}
        self.port = free_port()
        self.procs: list[subprocess.Popen] = []
        self.commands: dict[int, tuple[str, list[str], object]] = {}
        self.components: dict[str, set[int]] = {}
        log = open(RESULTS / "last-run.log", "w")  # noqa: SIM115 (lives as long as the run)
        self.spawn("receiver", [sys.executable, str(ROOT / "bench" / "receiver.py"),
                                str(self.port)], log)
        for number in range(workers):
            self.spawn("delivery workers", worker_command("deliveries", number), log)
        self.spawn("other worker", worker_command("other", 0), log)
        self.spawn("beat", [sys.executable, "-m", "celery", "-A", "camio_portal", "beat",
                            "--loglevel", "WARNING", "-s", str(RESULTS / "beat-schedule")], log)
        deadline = time.monotonic() + 30
        while True:
            try:
                http(f"{self.url}/_count")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def spawn(self, component: str, command: list[str], log: object) -> None:
        proc = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=log, start_new_session=True,
                                env=self.env)
        self.procs.append(proc)
        self.commands[proc.pid] = (component, command, log)
        self.components.setdefault(component, set()).add(proc.pid)

    def kill(self, component: str) -> list[tuple[str, list[str], object]]:
        """SIGKILL every process of ``component``; return what restarts them."""
        killed = []
        for proc in [p for p in self.procs if p.pid in self.components.get(component, set())]:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            self.procs.remove(proc)
            self.components[component].discard(proc.pid)
            killed.append(self.commands.pop(proc.pid))
        return killed

    def meter(self) -> cpu.Meter:
        """A CPU meter over every process of the run: these, the bench process (the
        publisher), PostgreSQL (the postmaster and all its backends) and Redis."""
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend = cursor.fetchone()[0]
        components = {"publisher": {os.getpid()}, **self.components,
                      "postgresql": {cpu.postgres_root(backend)}, "redis": {redis_pid()}}
        return cpu.Meter(components, alone=frozenset({"publisher"}))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def redis_pid() -> int:
    import redis

    client = redis.Redis.from_url(os.environ["CELERY_BROKER_URL"])
    return int(client.info("server")["process_id"])


def post_json(url: str, token: str, body: bytes) -> dict:
    """POST ``body`` (JSON) with a bearer token; return the parsed answer."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310
    with urllib.request.urlopen(request, timeout=120) as answer:  # noqa: S310 (loopback)
        return json.loads(answer.read())


def start_web(procs: Processes, workers: int) -> str:
    """Start gunicorn beside the workers; return its base URL once it answers."""
    port = free_port()
    log = open(RESULTS / "last-run-web.log", "w")  # noqa: SIM115
    procs.spawn(
        "web",
        [
            sys.executable,
            "-m",
            "gunicorn",
            "camio_portal.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--timeout",
            "120",
        ],
        log,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=5)  # noqa: S310
            return base
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def reset_data(receiver_url: str) -> object:
    from django.db import connection

    from domains.models import Domain, User
    from domains.services import domain_register

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE callbacks_attempt, callbacks_delivery, callbacks_event, "
            "callbacks_endpointhourlystat, callbacks_replayjob, callbacks_endpoint, "
            # A flood's reports left unevaluated would keep the other worker busy (its
            # sweeper) through the next scenarios.
            "incidents_counterreport, incidents_countersample, incidents_countertrip, "
            "incidents_incident, incidents_evaluationlock CASCADE"
        )
    domain = Domain.objects.filter(name="bench.test").first() or domain_register(
        name="bench.test", admin_email="admin@bench.test", invite=False
    )
    http(f"{receiver_url}/_reset", "POST")
    return domain, User.objects.get(email="admin@bench.test")


def purge_broker() -> None:
    from django.conf import settings

    from camio_portal.celery import app

    with app.connection_for_write() as conn:
        for queue in [q for queues in settings.WORKER_QUEUES.values() for q in queues]:
            with contextlib.suppress(Exception):  # never declared: nothing to purge
                conn.default_channel.queue_purge(queue)


# fanout-10-filtered's filter: five clauses that every published event (the catalog's
# camera.created example) passes, so the same deliveries are made as in fanout-10.
MATCH_ALL = {
    "type": "camera.created",
    "data.object.camera.camera_id": {"$in": ["7K2M9Q4R8T1V3X5Z6B0C2D4F", "other-camera"]},
    "data.object.camera.name": {"$startsWith": "Front"},
    "data.object.user.email": {"$exists": True},
    "$not": {"data.object.camera.maker": "Hikvision"},
}


def make_endpoints(domain: object, urls: list[str], ordering: str = "none",
                   payload_filter: dict | None = None, signing: str = "hmac") -> None:
    from callbacks.services import endpoint_create

    for url in urls:
        endpoint_create(domain=domain, url=url, event_types=["camera.created"], actor=None,
                        ordering=ordering, payload_filter=payload_filter, signing=signing)


def publish_batch(domain: object, count: int, per_transaction: int,
                  keys: int = 0) -> list[tuple[str, float]]:
    """Publish ``count`` events in transactions of ``per_transaction``; with ``keys``, event
    i has order key ``k<i mod keys>``."""
    from django.db import transaction

    from callbacks import catalog
    from callbacks.publishing import publish_many

    example = catalog.get("camera.created").example
    committed = []
    for start in range(0, count, per_transaction):
        size = min(per_transaction, count - start)
        batch = [("camera.created", example, f"k{(start + i) % keys}" if keys else "")
                 for i in range(size)]
        with transaction.atomic():
            events = publish_many(domain=domain, events=batch)
        now = time.time()
        committed += [(str(e.id), now) for e in events]
    return committed


def publish_steady(
    domain: object, rate: float, seconds: float, threads: int = 1
) -> list[tuple[str, float]]:
    """Publish ``rate`` events/s for ``seconds``, one per transaction, from ``threads``
    threads (each its own connection) pacing rate/threads each."""
    import threading

    from django.db import connection

    from callbacks import catalog
    from callbacks.publishing import publish

    example = catalog.get("camera.created").example
    committed: list[tuple[str, float]] = []
    start = time.monotonic()

    def one(offset: int) -> None:
        sent, each = 0, rate / threads
        mine = []
        while sent < each * seconds:
            due = start + (sent + offset / threads) / each
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)  # pacing the load generator, not waiting for a result
            event = publish(domain=domain, type="camera.created", object=example)
            mine.append((str(event.id), time.time()))
            sent += 1
        committed.extend(mine)
        if threads > 1:
            connection.close()

    if threads == 1:
        one(0)
        return committed
    workers = [threading.Thread(target=one, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return committed


def wait_drained(
    expected_receipts: int, receiver_url: str, timeout: float, hanging: bool = False,
    count_path: str = "",
) -> None:
    """Wait until the receiver has what it should (on paths starting with ``count_path``)
    and, unless an endpoint hangs, nothing is left pending; show progress."""
    from callbacks.models import Delivery

    deadline = time.monotonic() + timeout
    last_print = 0.0
    while time.monotonic() < deadline:
        received = int(http(f"{receiver_url}/_count?prefix={count_path}"))
        if time.monotonic() - last_print > 1:
            backlog = Delivery.objects.filter(state__in=["pending", "sending"]).count()
            print(f"    received {received}/{expected_receipts}, backlog {backlog}", flush=True)
            last_print = time.monotonic()
        if received >= expected_receipts:
            if hanging:
                return
            if not Delivery.objects.filter(state__in=["pending", "sending"]).exists():
                return
        time.sleep(0.2)
    raise SystemExit(f"not drained within {timeout} s: see bench/results/last-run.log")


def receipts(receiver_url: str) -> list[tuple[str, float, str]]:
    return [tuple(row) for row in json.loads(http(f"{receiver_url}/_dump"))]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def latencies_ms(committed: list[tuple[str, float]], rows: list, skip_path: str = "") -> list:
    at = dict(committed)
    return [
        (t - at[i]) * 1000
        for i, t, path in rows
        if i in at and not (skip_path and path.startswith(skip_path))
    ]


def scenario_body() -> bytes:
    """A callback body the size of the scenarios' (camera.created's example)."""
    import uuid

    from callbacks import catalog
    from callbacks.publishing import envelope

    return envelope(uuid.uuid4(), "camera.created", catalog.get("camera.created").example)


async def _ceiling(url: str, total: int, body: bytes, concurrency: int = 50) -> float:
    import aiohttp

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as s:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(total):
            queue.put_nowait(i)

        async def run() -> None:
            while not queue.empty():
                queue.get_nowait()
                async with s.post(f"{url}/ceiling", data=body) as answer:
                    await answer.read()

        start = time.perf_counter()
        await asyncio.gather(*(run() for _ in range(concurrency)))
        return total / (time.perf_counter() - start)


def ceiling(procs: Processes, total: int) -> dict:
    """Requests/s an aiohttp client with 50 in flight reaches against the same receiver,
    with a scenario-sized body, and its CPU per request (client plus receiver)."""
    meter = cpu.Meter({"ceiling client": {os.getpid()},
                       "receiver": procs.components["receiver"]},
                      alone=frozenset({"ceiling client"}))
    meter.begin()
    rate = asyncio.run(_ceiling(procs.url, total, scenario_body()))
    used = meter.end(total)
    http(f"{procs.url}/_reset", "POST")
    return {"requests_per_s": round(rate), "cpu": used}


def db_counters() -> tuple[int, int, int, int]:
    """WAL written so far and rows inserted, updated and deleted in every table."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn, sum(n_tup_ins), "
                       "sum(n_tup_upd), sum(n_tup_del) FROM pg_stat_user_tables")
        wal, inserted, updated, deleted = cursor.fetchone()
    return int(wal), int(inserted or 0), int(updated or 0), int(deleted or 0)


def db_cost(before: tuple[int, int, int, int], deliveries: int) -> dict:
    """PostgreSQL's writes per delivery since ``before`` (table counters reach the
    statistics within a second or two of each transaction: waited for here)."""
    time.sleep(2)  # let the backends' table counters reach the shared statistics
    after = db_counters()
    per = [(b - a) / max(deliveries, 1) for a, b in zip(before, after, strict=True)]
    return {"wal_bytes_per_delivery": round(per[0]), "rows_inserted_per_delivery": round(per[1], 2),
            "rows_updated_per_delivery": round(per[2], 2),
            "rows_deleted_per_delivery": round(per[3], 2)}


def attempts_recorded() -> int:
    from callbacks.models import Attempt

    return Attempt.objects.count()


# --- Scenarios -----------------------------------------------------------------


def flat_out(name: str, procs: Processes, fanout: int, events: int, keys: int = 0,
             payload_filter: dict | None = None, signing: str = "hmac") -> dict:
    """Publish ``events`` at once to ``fanout`` endpoints (ordered per key over ``keys``
    keys when given; each with ``payload_filter`` when given) and measure until every
    callback arrived."""
    domain, _ = reset_data(procs.url)
    make_endpoints(domain, [f"{procs.url}/e{i}" for i in range(fanout)],
                   ordering="per_key" if keys else "none", payload_filter=payload_filter,
                   signing=signing)
    print(f"  publishing {events} events x {fanout} endpoints in transactions of 100"
          f"{f', ordered per key over {keys} keys' if keys else ''}"
          f"{', each with a 5-clause filter every event passes' if payload_filter else ''}"
          f"{', each signing with ed25519' if signing == 'ed25519' else ''}",
          flush=True)
    before = db_counters()
    meter = procs.meter()
    meter.begin()
    start = time.time()
    committed = publish_batch(domain, events, 100, keys)
    publish_seconds = time.time() - start
    wait_drained(events * fanout, procs.url, timeout=600)
    used = meter.end(events * fanout)
    written = db_cost(before, events * fanout)
    rows = receipts(procs.url)
    elapsed = max(t for _, t, _ in rows) - start
    lat = latencies_ms(committed, rows)
    return {
        "throughput": round(len(rows) / elapsed),
        "received": len(rows),
        "attempts_recorded": attempts_recorded(),
        "seconds": round(elapsed, 2),
        "publish_events_per_s": round(events / publish_seconds),
        "latency_p50_ms": round(percentile(lat, 0.5), 1),
        "latency_p99_ms": round(percentile(lat, 0.99), 1),
        "cpu": used,
        "db": written,
    }


def filtered_fanout(procs: Processes, events: int) -> dict:
    """fanout-10 and the same load with every endpoint filtering (MATCH_ALL), in this run:
    the publisher's CPU per event with filters, as a percentage over without."""
    plain = flat_out("fanout-10", procs, 10, events)
    figures = flat_out("fanout-10-filtered", procs, 10, events, payload_filter=MATCH_ALL)

    def per(f: dict, component: str) -> float:  # unrounded: seconds over units
        return f["cpu"]["cpu_seconds"][component] / max(f["cpu"]["units"], 1)

    figures["fanout_10"] = {key: plain[key] for key in ("throughput", "received", "cpu")}
    figures["measured"] = round(100 * (per(figures, "publisher") / per(plain, "publisher") - 1), 1)
    figures["postgresql_percent_over_fanout_10"] = round(
        100 * (per(figures, "postgresql") / per(plain, "postgresql") - 1), 1)
    return figures


def ed25519_fanout(procs: Processes, events: int) -> dict:
    """fanout-10 and the same load with every endpoint signing with ed25519 (v1a) instead of
    HMAC, in this run: CPU per delivery (every component's) with ed25519, as a percentage
    over HMAC's."""
    plain = flat_out("fanout-10", procs, 10, events)
    figures = flat_out("fanout-10-ed25519", procs, 10, events, signing="ed25519")

    def per(f: dict, component: str | None = None) -> float:  # unrounded
        seconds = (f["cpu"]["cpu_seconds"][component] if component
                   else sum(f["cpu"]["cpu_seconds"].values()))
        return seconds / max(f["cpu"]["units"], 1)

    figures["fanout_10"] = {key: plain[key] for key in ("throughput", "received", "cpu")}
    figures["measured"] = round(100 * (per(figures) / per(plain) - 1), 1)
    figures["workers_percent_over_fanout_10"] = round(
        100 * (per(figures, "delivery workers") / per(plain, "delivery workers") - 1), 1)
    return figures


def steady(name: str, procs: Processes, rate: float, seconds: float, fanout: int = 1,
           hanging: bool = False, threads: int = 1, domain: object = None,
           during: object = None, others_pending: bool = False) -> dict:
    """Publish at ``rate``; ``during`` (a callable) runs beside the publisher (the flood);
    ``others_pending``: another domain's backlog may still wait when this load is in."""
    if domain is None:
        domain, _ = reset_data(procs.url)
    urls = [f"{procs.url}/e{i}" for i in range(fanout)]
    if hanging:
        urls[0] = f"{procs.url}/hang"
    make_endpoints(domain, urls)
    print(
        f"  publishing {rate:g} events/s for {seconds:g} s, one per transaction, "
        f"{fanout} endpoint(s){', one hanging' if hanging else ''}"
        f"{f', {threads} publisher threads' if threads > 1 else ''}",
        flush=True,
    )
    before = db_counters()
    meter = procs.meter()
    meter.begin()
    committed = publish_steady(domain, rate, seconds, threads)
    healthy = len(committed) * (fanout - (1 if hanging else 0))
    wait_drained(healthy, procs.url, timeout=300, hanging=hanging or others_pending,
                 count_path="/e")
    used = meter.end(healthy)
    written = db_cost(before, healthy)
    rows = receipts(procs.url)
    lat = latencies_ms(committed, rows, skip_path="/hang")
    return {
        "received_healthy": len(lat),
        "expected_healthy": healthy,
        "latency_p50_ms": round(percentile(lat, 0.5), 1),
        "latency_p99_ms": round(percentile(lat, 0.99), 1),
        "latency_max_ms": round(max(lat), 1),
        "attempts_recorded": attempts_recorded(),
        "cpu": used,
        "db": written,
    }


def ordered_fanout(procs: Processes, events: int) -> dict:
    """The same load unordered (fanout-1) and then to a per_key endpoint with 100 keys."""
    unordered = flat_out("fanout-1", procs, 1, events)
    ordered = flat_out("ordered-fanout", procs, 1, events, keys=100)
    return {**ordered, "unordered_throughput": unordered["throughput"],
            "unordered_cpu": unordered["cpu"],
            "measured": round(100 * ordered["throughput"] / max(unordered["throughput"], 1), 1)}


def outage(workers: int, events: int, down_seconds: float) -> dict:
    """The receiver answers 500 for ``down_seconds`` (longer than the whole compressed
    schedule, OUTAGE_ENV), then 200: count the attempts made meanwhile (probes and the
    others), the deliveries failed and the time from recovery to drained."""
    from django.db.models import Min

    from callbacks.models import Attempt, Delivery, Endpoint

    procs = Processes(workers, OUTAGE_ENV)
    try:
        domain, _ = reset_data(procs.url)
        make_endpoints(domain, [f"{procs.url}/flaky"])
        http(f"{procs.url}/_down", "POST")
        print(f"  receiver down for {down_seconds:g} s; publishing {events} events", flush=True)
        down_at = time.time()
        publish_batch(domain, events, 100)
        while time.time() < down_at + down_seconds:
            time.sleep(0.5)  # the outage lasts this long (the load generator's clock)
        http(f"{procs.url}/_up", "POST")
        up_at = time.time()
        print("  receiver back", flush=True)
        wait_drained(events, procs.url, timeout=600, count_path="/flaky")
        drained_at = max(t for _, t, path in receipts(procs.url) if path == "/flaky")
        opened = Endpoint.objects.get().circuit_opened_at  # None again once closed
        during = Attempt.objects.filter(started_at__lt=_utc(up_at))
        first_probe = during.filter(probe=True).aggregate(Min("started_at"))["started_at__min"]
        after_open = during.filter(started_at__gte=first_probe) if first_probe else during.none()
        return {
            "events": events,
            "down_seconds": down_seconds,
            "schedule_seconds": sum(float(s) for s in OUTAGE_ENV["CALLBACK_RETRY_SCHEDULE"]
                                    .split(",")),
            "attempts_during_outage": during.count(),
            "probes_during_outage": during.filter(probe=True).count(),
            "attempts_before_the_circuit_opened": during.count() - after_open.count(),
            "non_probe_attempts_after_the_first_probe": after_open.filter(probe=False).count(),
            "deliveries_failed": Delivery.objects.filter(state="failed").count(),
            "deliveries_succeeded": Delivery.objects.filter(state="succeeded").count(),
            "seconds_recovery_to_drained": round(drained_at - up_at, 2),
            "drain_deliveries_per_s": round(events / max(drained_at - up_at, 1e-3)),
            "circuit_open_at_end": opened is not None,
            "measured": Delivery.objects.filter(state="failed").count(),
        }
    finally:
        procs.stop()


def _utc(seconds: float) -> object:
    import datetime

    return datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)


def flood_isolation(procs: Processes, seconds: float, web_url: str) -> dict:
    """50 events/s to one domain's endpoint, without and then with a Box of another domain
    posting counter reports flat out (100 per request, from several clients)."""
    import threading

    from bench_flood import Flood

    domain, _ = reset_data(procs.url)
    calm = steady("flood-isolation", procs, 50, seconds, domain=domain)
    domain, _ = reset_data(procs.url)
    flood = Flood(web_url, clients=3)
    flood.prepare()
    runner = threading.Thread(target=flood.run)
    runner.start()
    flood.wait_started()
    procs.components["flood clients"] = {flood.pid}
    try:
        stormy = steady("flood-isolation", procs, 50, seconds, domain=domain)
    finally:
        flood.stop()
        runner.join()
        procs.components.pop("flood clients", None)
    return {
        "calm_p99_ms": calm["latency_p99_ms"],
        "flood_p99_ms": stormy["latency_p99_ms"],
        "flood_p50_ms": stormy["latency_p50_ms"],
        "flood_reports_posted": flood.reports,
        "flood_requests": flood.requests,
        "flood_reports_unevaluated_at_end": flood.unevaluated(),
        "measured": round(stormy["latency_p99_ms"] / max(calm["latency_p99_ms"], 0.001), 2),
        "cpu": stormy["cpu"],
    }


def slow_tenant(procs: Processes, seconds: float) -> dict:
    """A healthy domain's endpoint at 20 events/s, alone and then beside another domain
    with 12 endpoints that answer after 2 s and 6,000 deliveries due (500 events)."""
    from domains.models import Domain
    from domains.services import domain_register

    healthy, _ = reset_data(procs.url)
    calm = steady("slow-tenant", procs, 20, seconds, domain=healthy)
    healthy, _ = reset_data(procs.url)
    slow = Domain.objects.filter(name="slow.test").first() or domain_register(
        name="slow.test", admin_email="admin@slow.test", invite=False)
    make_endpoints(slow, [f"{procs.url}/slow{i}" for i in range(12)])
    print("  the slow domain: 500 events x 12 endpoints answering after 2 s", flush=True)
    publish_batch(slow, 500, 100)
    stormy = steady("slow-tenant", procs, 20, seconds, domain=healthy, others_pending=True)
    from callbacks.models import Delivery

    return {
        "calm_p99_ms": calm["latency_p99_ms"],
        "slow_tenant_p99_ms": stormy["latency_p99_ms"],
        "slow_tenant_p50_ms": stormy["latency_p50_ms"],
        "slow_deliveries_left": Delivery.objects.filter(domain=slow,
                                                        state__in=["pending", "sending"]).count(),
        "measured": round(stormy["latency_p99_ms"] / max(calm["latency_p99_ms"], 0.001), 2),
        "cpu": stormy["cpu"],
    }


def worker_kill(procs: Processes) -> dict:
    """Two endpoints answering after 2 s, 2,000 events each: once 300 deliveries are
    claimed, SIGKILL the delivery workers and start them again 5 s later; the longest gap
    between receipts from the kill to the last receipt."""
    from callbacks.models import Delivery

    domain, _ = reset_data(procs.url)
    make_endpoints(domain, [f"{procs.url}/slow{i}" for i in range(2)])
    publish_batch(domain, 2000, 100)
    deadline = time.monotonic() + 60
    while Delivery.objects.filter(state="sending").count() < 300:
        if time.monotonic() > deadline:
            raise SystemExit("300 deliveries were never claimed at once")
        time.sleep(0.05)
    claimed = Delivery.objects.filter(state="sending").count()
    killed_at = time.time()
    restart = procs.kill("delivery workers")
    print(f"  killed the delivery workers with {claimed} claimed; starting them in 5 s",
          flush=True)
    time.sleep(5)  # the outage the scenario is about
    for component, command, log in restart:
        procs.spawn(component, command, log)
    wait_drained(4000, procs.url, timeout=600)
    after = sorted([killed_at] + [t for _, t, _ in receipts(procs.url) if t >= killed_at])
    gaps = [b - a for a, b in itertools.pairwise(after)]
    return {
        "claimed_at_kill": claimed,
        "restarted_after_s": 5,
        "longest_gap_s": round(max(gaps), 2),
        "first_receipt_after_kill_s": round(after[1] - killed_at, 2) if len(after) > 1 else None,
        "received": len(receipts(procs.url)),
        "measured": round(max(gaps), 2),
    }


def machine() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    redis_version = subprocess.run(
        ["redis-server", "--version"], capture_output=True, text=True
    ).stdout.split()[2:3]
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "postgresql": pg,
        "redis": "".join(redis_version),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
    }


def git_sha() -> str:
    """The commit measured, with ``-dirty`` when tracked files differ from it (so a result
    is never filed under a commit whose code it did not run)."""
    result = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    changed = subprocess.run(  # the run's own logs in bench/results do not count
        ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench/results"],
        cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return (result.stdout.strip() or "unknown") + ("-dirty" if changed else "")


def write(name: str, figures: dict, the_ceiling: dict | None, facts: dict,
          args: object) -> dict:
    unit, target, sense = TARGETS[name]
    record = {"scenario": name, "target": target, "unit": unit, "sense": sense}
    cpu_figures = figures.get("cpu")
    if the_ceiling is not None:
        rate = the_ceiling["requests_per_s"]
        record["ceiling_requests_per_s"] = rate
        record["ceiling_cpu_ms_per_request"] = the_ceiling["cpu"]["cpu_ms_per_unit_total"]
        record["ceiling_cpu"] = the_ceiling["cpu"]
        if "throughput" in figures:
            record["deliveries_per_s"] = figures["throughput"]
            record["percent_of_ceiling"] = round(100 * figures["throughput"] / rate, 1)
        if cpu_figures:
            record["cpu_ms_per_delivery"] = cpu_figures["cpu_ms_per_unit_total"]
            record["cpu_per_delivery_over_ceiling"] = round(
                cpu_figures["cpu_ms_per_unit_total"]
                / max(the_ceiling["cpu"]["cpu_ms_per_unit_total"], 1e-9), 2)
    measured = record["percent_of_ceiling"] if unit == "% of ceiling" else figures["measured"]
    record["measured"] = measured
    met = measured >= target if sense == ">=" else measured <= target
    if name in CPU_TARGETS and "cpu_per_delivery_over_ceiling" in record:
        record["cpu_target"] = CPU_TARGETS[name]
        record["cpu_met"] = record["cpu_per_delivery_over_ceiling"] <= CPU_TARGETS[name]
    if name in CPU_MS_TARGETS and "cpu_ms_per_delivery" in record:
        record["cpu_ms_target"] = CPU_MS_TARGETS[name]
        record["cpu_ms_met"] = record["cpu_ms_per_delivery"] <= CPU_MS_TARGETS[name]
    record.update({
        "met": met,
        "figures": figures,
        "workers": getattr(args, "workers", None),
        "layout": f"{getattr(args, 'workers', 2)} delivery worker processes (solo), 1 worker for "
                  "the rest (2 pool processes)",
        "quick": getattr(args, "quick", False),
        "machine": facts,
        "git": git_sha(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    })
    path = RESULTS / f"{name}-{record['git']}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    verdict = "met" if met else "MISSED"
    line = f"  {name}: {measured} {unit} (target {sense} {target}: {verdict})"
    if "cpu_ms_target" in record:
        line += (f"; CPU target <= {record['cpu_ms_target']} ms per delivery: "
                 f"{'met' if record['cpu_ms_met'] else 'MISSED'}")
    if the_ceiling is not None:
        line += f"; ceiling {the_ceiling['requests_per_s']} req/s"
    if cpu_figures:
        each = "delivery" if the_ceiling is not None else "unit of work"
        line += f"; CPU {cpu_figures['cpu_ms_per_unit_total']} ms per {each}"
        if the_ceiling is not None:
            line += f" ({record.get('cpu_per_delivery_over_ceiling', '?')}x the ceiling's)"
        line += f", accounted {cpu_figures['components_over_machine']:.0%} of machine busy"
        parts = ", ".join(f"{k} {v}" for k, v in cpu_figures["cpu_ms_per_unit"].items())
        line += f"\n    per component (ms per {each}): {parts}"
    if "db" in figures:
        line += "\n    PostgreSQL per delivery: " + ", ".join(
            f"{k.removesuffix('_per_delivery').replace('_', ' ')} {v}"
            for k, v in figures["db"].items())
    print(f"{line}\n    -> {path.relative_to(ROOT)}", flush=True)
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "scenarios",
        nargs="*",
        metavar="scenario",
        help=f"any of {', '.join(TARGETS)} (default: all)",
    )
    parser.add_argument("--quick", action="store_true", help="smaller runs")
    parser.add_argument("--workers", type=int, default=2,
                        help="delivery worker processes (default 2, the fixed layout)")
    args = parser.parse_args()
    unknown = set(args.scenarios) - set(TARGETS)
    if unknown:
        parser.error(
            f"unknown scenario(s) {', '.join(sorted(unknown))}; choose from {', '.join(TARGETS)}"
        )
    args.scenarios = args.scenarios or list(TARGETS)
    RESULTS.mkdir(parents=True, exist_ok=True)
    env = configure()
    os.environ.update(API_THROTTLE_BOX="", API_THROTTLE_BOX_REPORTS="",  # the flood's web
                      SECURE_SSL_REDIRECT="false")
    if env["DATABASE_URL"].startswith("postgres"):
        ensure_database(env["DATABASE_URL"])
    setup_django()
    purge_broker()
    facts = machine()
    scale = 0.2 if args.quick else 1.0
    from bench_flood import Flood

    Flood.reset()  # before any worker starts: no leftover reports for its sweeper
    procs = Processes(args.workers)
    try:
        web_url = start_web(procs, 2) if "flood-isolation" in args.scenarios else ""
        warm, _ = reset_data(procs.url)
        make_endpoints(warm, [f"{procs.url}/warm"])
        publish_batch(warm, 50, 50)
        wait_drained(50, procs.url, timeout=60)
        for name in args.scenarios:
            print(f"{name}:", flush=True)
            the_ceiling = ceiling(procs, int(20000 * scale))
            if name == "fanout-1":
                figures = flat_out(name, procs, 1, int(30000 * scale))
            elif name == "fanout-10":
                figures = flat_out(name, procs, 10, int(3000 * scale))
            elif name == "fanout-10-filtered":
                figures = filtered_fanout(procs, int(3000 * scale))
            elif name == "fanout-10-ed25519":
                figures = ed25519_fanout(procs, int(3000 * scale))
            elif name in ("steady-200", "steady-500"):
                rate = 200 if name == "steady-200" else 500
                figures = steady(name, procs, rate, 20 * scale, threads=1 if rate < 500 else 4)
                figures["measured"] = figures["latency_p99_ms"]
            elif name == "flood-isolation":
                figures = flood_isolation(procs, 20 * scale, web_url)
            elif name == "ordered-fanout":
                figures = ordered_fanout(procs, int(30000 * scale))
            elif name == "slow-tenant":
                figures = slow_tenant(procs, 20 * scale)
            elif name == "worker-kill":
                figures = worker_kill(procs)
                the_ceiling = None
            elif name == "outage":
                procs.stop()  # its own workers, with the compressed schedule
                figures = outage(args.workers, int(2000 * scale), 15.0)
                procs = Processes(args.workers)
                the_ceiling = None
            else:
                normal = steady(name, procs, 50, 20 * scale, fanout=10)
                figures = steady(name, procs, 50, 20 * scale, fanout=10, hanging=True)
                figures["normal_p99_ms"] = normal["latency_p99_ms"]
                figures["measured"] = round(
                    figures["latency_p99_ms"] / max(normal["latency_p99_ms"], 0.001), 2
                )
            write(name, figures, the_ceiling, facts, args)
    finally:
        procs.stop()


if __name__ == "__main__":
    main()
