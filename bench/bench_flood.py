"""The flood of ``flood-isolation``: one Box of another domain posts counter reports
over HTTP flat out, 100 per request, from several client threads."""

from __future__ import annotations

import datetime
import itertools
import json
import threading

import run as common  # bench/run.py

CAMERAS = 20


class Flood:
    def __init__(self, web_url: str, clients: int) -> None:
        self.web_url, self.clients = web_url, clients
        self.requests = self.reports = 0
        self._stop = threading.Event()
        self._numbers = itertools.count()
        self._lock = threading.Lock()
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

    def body(self) -> bytes:
        reports = []
        for _ in range(100):
            n = next(self._numbers)
            at = self.start + datetime.timedelta(milliseconds=10 * n)
            counters = {"movies_discarded_count": 1} if n % 7 == 0 else {"events_purged_count": 0}
            reports.append({"report_id": f"f{n}", "time": at.isoformat(),
                            "cameras": {cid: counters for cid in self.cameras}})
        return json.dumps({"reports": reports}).encode()

    def run(self) -> None:
        def client() -> None:
            while not self._stop.is_set():
                common.post_json(self.url, self.token, self.body())
                with self._lock:
                    self.requests += 1
                    self.reports += 100

        threads = [threading.Thread(target=client) for _ in range(self.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def stop(self) -> None:
        self._stop.set()

    def unevaluated(self) -> int:
        from incidents.models import CounterReport

        return CounterReport.objects.filter(evaluated_at__isnull=True).count()
