"""The flood of ``flood-isolation``: one Box of another domain posts counter reports
over HTTP flat out, 100 per request, from several client threads."""

from __future__ import annotations

import datetime
import itertools
import json
import signal
import subprocess
import sys
import threading
import urllib.request

CAMERAS = 20


class Flood:
    def __init__(self, web_url: str, clients: int) -> None:
        self.web_url, self.clients = web_url, clients
        self.requests = self.reports = 0
        self._started = threading.Event()
        self._proc: subprocess.Popen | None = None
        self.start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=50)

    @staticmethod
    def reset() -> None:
        """Empty the incident tables (before the workers start)."""
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE incidents_counterreport, incidents_countersample, "
                           "incidents_counterminute, incidents_incident, incidents_countertrip, "
                           "incidents_evaluationlock CASCADE")

    def prepare(self) -> None:
        from domains import services
        from domains.models import Domain, User
        from incidents.services import rules_reset

        rules_reset(actor=None)
        Domain.objects.filter(name="flood.test").first() or services.domain_register(
            name="flood.test", admin_email="admin@flood.test", invite=False)
        owner = User.objects.get(email="admin@flood.test")
        device = services.device_create(owner=owner, name="Flooding Box")
        self.cameras = [services.camera_create(owner=owner, device=device, name=f"Cam {c}")
                        .camera_id for c in range(CAMERAS)]
        _, self.token = services.token_issue(kind="box", user=None, name="flood",
                                             device=device, actor=None)
        self.url = f"{self.web_url}/api/devices/{device.device_id}/counters"

    def run(self) -> None:
        """Post flat out from a process of its own (its threads must not share the
        publisher's interpreter lock) until ``stop``."""
        spec = json.dumps({"url": self.url, "token": self.token, "cameras": self.cameras,
                           "clients": self.clients, "start": self.start.isoformat()})
        self._proc = subprocess.Popen([sys.executable, __file__, spec], stdout=subprocess.PIPE,
                                      text=True)
        self._started.set()
        out, _ = self._proc.communicate()
        self.requests = int(out.split()[0]) if out.strip() else 0
        self.reports = 100 * self.requests

    def wait_started(self) -> None:
        self._started.wait(30)

    @property
    def pid(self) -> int:
        return self._proc.pid if self._proc else 0

    def stop(self) -> None:
        self._started.wait(30)
        if self._proc is not None:
            self._proc.send_signal(signal.SIGTERM)

    def unevaluated(self) -> int:
        from incidents.models import CounterReport

        return CounterReport.objects.filter(evaluated_at__isnull=True).count()


def _post(url: str, token: str, body: bytes) -> None:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310
    with urllib.request.urlopen(request, timeout=120) as answer:  # noqa: S310 (loopback)
        answer.read()


def main(spec: dict) -> None:
    """The flood process: ``clients`` threads post batches of 100 reports until SIGTERM,
    then print how many requests were answered."""
    stop, lock, numbers = threading.Event(), threading.Lock(), itertools.count()
    start = datetime.datetime.fromisoformat(spec["start"])
    answered = [0]
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def body() -> bytes:
        reports = []
        for _ in range(100):
            with lock:
                n = next(numbers)
            at = start + datetime.timedelta(milliseconds=10 * n)
            counters = {"movies_discarded_count": 1} if n % 7 == 0 else {"events_purged_count": 0}
            reports.append({"report_id": f"f{n}", "time": at.isoformat(),
                            "cameras": {cid: counters for cid in spec["cameras"]}})
        return json.dumps({"reports": reports}).encode()

    def client() -> None:
        while not stop.is_set():
            _post(spec["url"], spec["token"], body())
            with lock:
                answered[0] += 1

    threads = [threading.Thread(target=client) for _ in range(spec["clients"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(answered[0], flush=True)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
