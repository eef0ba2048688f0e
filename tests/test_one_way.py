"""Acceptance (P7, 1 and 2): one camera change, traced from its service to the recorded
attempt through a real worker, enters each project file at most once per thread and
never calls back up; and a function-level import in callbacks/ fails the lint."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from callbacks.delivery.dispatcher import shutdown_dispatcher
from callbacks.models import Attempt
from domains import services
from tests.receiver import wait_for
from tests.support.one_way import Tracer, project_copy
from tests.support.workers import running_worker


@pytest.mark.django_db(transaction=True)
def test_one_camera_change_goes_one_way(receiver, endpoint_for, box, camera, acme_admin):
    endpoint_for(receiver.url, ["camera.updated"])
    shutdown_dispatcher()  # its threads start again under the tracer
    tracer = Tracer()
    threading.setprofile(tracer)
    try:
        with running_worker():
            tracer.forget()  # the worker's start-up is not the change's path
            sys.setprofile(tracer)
            services.camera_update(camera=camera, actor=acme_admin, changes={"name": "Lobby"})
            sys.setprofile(None)
            wait_for(lambda: Attempt.objects.filter(succeeded=True).exists(), what="the attempt")
            shutdown_dispatcher()
    finally:
        threading.setprofile(None)
        sys.setprofile(None)
    files = {f for entered in tracer.files.values() for f in entered}
    report = "\n".join(
        f"{thread}: {', '.join(entered)}\n  calls: "
        + ", ".join(f"{a} -> {b}" for a, b in sorted(tracer.calls[thread]))
        for thread, entered in tracer.files.items()
    )
    print(report)
    assert tracer.back_calls() == [], report
    # 17 with a cold endpoint cache (callbacks/encrypted_fields.py among them): since P15
    # no broker is on the path, and the engine's libraries (callbacks/publishing.py,
    # egress.py, signing.py) are files of their own; since P19 the change's request id and
    # trace context go with it (callbacks/tracing.py, and camio_portal/logs.py's filter on
    # the attempt's log line). docs/architecture.md lists them.
    assert len(files) <= 17, f"{len(files)} files:\n{report}"


def test_a_lower_engine_module_importing_a_higher_one_fails_the_lint(tmp_path):
    copy = project_copy(tmp_path)
    policy = copy / "callbacks" / "delivery" / "policy.py"
    policy.write_text(policy.read_text() + "\nfrom callbacks.delivery import dispatcher\n")
    bin_dir = Path(sys.executable).parent
    checked = subprocess.run([bin_dir / "lint-imports"], cwd=copy, capture_output=True,
                             text=True, env={**os.environ, "PYTHONPATH": str(copy)})
    assert checked.returncode != 0
    assert "The delivery engine imports only downward BROKEN" in checked.stdout
    assert "callbacks.delivery.policy -> callbacks.delivery.dispatcher" in checked.stdout


def test_a_function_level_import_in_callbacks_fails_the_lint(tmp_path):
    copy = project_copy(tmp_path)
    (copy / "callbacks" / "late.py").write_text(
        '"""A module with a late import."""\n\n\ndef late() -> str:\n'
        '    import json\n\n    return json.dumps(1)\n'
    )
    (copy / "domains" / "late.py").write_text((copy / "callbacks" / "late.py").read_text())
    ruff = Path(sys.executable).parent / "ruff"
    checked = subprocess.run([ruff, "check", "--no-cache", "callbacks/late.py", "domains/late.py"],
                             cwd=copy, capture_output=True, text=True)
    assert checked.returncode != 0
    assert "PLC0415" in checked.stdout and "callbacks/late.py" in checked.stdout
    assert "domains/late.py" not in checked.stdout  # the rule holds in callbacks/ only
