"""P15 (4): a broker outage never ends a delivery worker for good, and /healthz knows.

The sequence that once killed a delivery worker for good (kombu's restore of unacked
messages on a connection that had gone: ``'NoneType' object has no attribute
'hostname'``): Redis stopped under load, started, and stopped again soon after the
worker reconnected, with messages unacked. Repeated five times against a real
``redis-server``; every event is delivered afterwards and the test restarts nothing.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from callbacks.models import Delivery
from tests.processes import (
    ROOT,
    child_env,
    free_port,
    kill_group,
    redis_answers,
    start_redis,
    start_worker,
)
from tests.receiver import wait_for

pytestmark = [
    pytest.mark.workers,
    pytest.mark.skipif(shutil.which("redis-server") is None,
                       reason="needs the redis-server program to run a private broker"),
]

OUTAGE = {
    "CALLBACK_LEASE_SECONDS": "5",
    "CALLBACK_SWEEP_INTERVAL": "0.5",
    "CALLBACK_WORKER_HEARTBEAT": "0.5",
}


PUBLISHER = """
import os, time
from callbacks import catalog
from callbacks.publishing import publish
from domains.models import Domain
domain, example, count = Domain.objects.get(pk={domain}), catalog.get("camera.created").example, 0
while not os.path.exists({stop!r}):
    publish(domain=domain, type="camera.created", object=example)
    count += 1
    time.sleep(0.02)  # the load's pace
print("published", count)
"""


class Publisher:
    """A process publishing one camera.created every 20 ms on the private broker (its
    after-commit messages go where the worker listens) until stopped."""

    def __init__(self, tmp_path, domain, **env: str) -> None:
        self.stop_file = tmp_path / "stop-publishing"
        script = PUBLISHER.format(domain=domain.pk, stop=str(self.stop_file))
        self.proc = subprocess.Popen([sys.executable, "manage.py", "shell", "-c", script],
                                     cwd=ROOT, env=child_env(**env), stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True,
                                     start_new_session=True)

    def stop(self) -> int:
        """Stop publishing; return how many events were published."""
        self.stop_file.touch()
        out, _ = self.proc.communicate(timeout=60)
        return int(out.split("published", 1)[1])


def log_count(log, text: str) -> int:
    """How many times the worker has logged ``text`` so far."""
    return log.read_text(errors="replace").count(text)


def connected(log) -> bool:
    """Whether the worker's last word on the broker is that it connected."""
    text = log.read_text(errors="replace")
    return text.rfind("Connected to redis://") > max(
        text.rfind("Connection to broker lost"), text.rfind("Cannot connect to redis"))


@pytest.mark.django_db(transaction=True)
def test_a_broker_stopped_again_right_after_reconnecting_never_ends_the_worker(
    tmp_path, receiver, endpoint_for, acme, client, settings
):
    port = free_port()
    broker = {"CELERY_BROKER_URL": f"redis://127.0.0.1:{port}/0", **OUTAGE}
    settings.CALLBACK_WORKER_HEARTBEAT = 0.5
    endpoint_for(receiver.url, ["camera.created"])
    redis = start_redis(port, tmp_path)
    wait_for(lambda: redis_answers(port), what="the private Redis")
    assert client.get("/healthz").json()["checks"]["deliveries"] == "none alive"
    log = tmp_path / "worker.log"
    worker = start_worker(log, tmp_path / "beat", queues="deliveries,deliveries-replay",
                          **broker)
    publisher = None
    try:
        wait_for(lambda: client.get("/healthz").json()["checks"]["deliveries"].startswith("ok"),
                 timeout=60, what="/healthz to see the delivery worker")
        publisher = Publisher(tmp_path, acme, **broker)
        for _outage in range(5):
            wait_for(lambda: connected(log), timeout=90, what="the worker connected")
            flowing = len(receiver.received)
            wait_for(lambda n=flowing: len(receiver.received) >= n + 20, timeout=60,
                     what="deliveries flowing")
            kill_group(redis)  # down under load, messages unacked
            assert client.get("/readyz").status_code == 200
            # Down until the worker has failed to reconnect twice (a few seconds).
            failed = log_count(log, "Cannot connect to redis")
            wait_for(lambda n=failed: log_count(log, "Cannot connect to redis") >= n + 2,
                     timeout=60, what="the worker to fail to reconnect twice")
            redis = start_redis(port, tmp_path)
            wait_for(lambda: connected(log), timeout=90, what="the worker to reconnect")
            lost = log_count(log, "Connection to broker lost")
            kill_group(redis)  # and down again within seconds of reconnecting
            wait_for(lambda n=lost: log_count(log, "Connection to broker lost") > n,
                     timeout=60, what="the worker to see the second loss")
            redis = start_redis(port, tmp_path)
            wait_for(lambda: redis_answers(port), what="Redis back again")
            assert worker.poll() is None, log.read_text(errors="replace")[-4000:]
        published, publisher = publisher.stop(), None
        wait_for(lambda: Delivery.objects.filter(state="succeeded").count() == published,
                 timeout=120, what=f"all {published} deliveries after the outages")
        assert worker.poll() is None, log.read_text(errors="replace")[-4000:]
        assert "Unrecoverable error" not in log.read_text(errors="replace")
        assert len(set(receiver.ids())) == published
    finally:
        if publisher is not None:
            kill_group(publisher.proc)
        kill_group(worker)
        kill_group(redis)
    wait_for(lambda: client.get("/healthz").json()["checks"]["deliveries"] == "none alive",
             timeout=10, what="/healthz to see no delivery worker")
    assert client.get("/healthz").status_code == 503
    assert client.get("/readyz").status_code == 200
