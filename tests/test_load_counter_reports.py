"""load_counter_reports: history is judged but publishes nothing unless --publish."""

from __future__ import annotations

import datetime
import json

import pytest
from django.core.management import call_command

from callbacks.models import Event
from incidents.models import CounterReport, Incident
from tests.support.terminal import Terminal

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("counter_rules")]


def lines(box, camera, now) -> str:
    rows = [
        {
            "device_id": box.device_id,
            "time": (now - datetime.timedelta(minutes=m)).isoformat(),
            "cameras": {camera.camera_id: {"movies_purged_count": 1 if m == 0 else 0}},
        }
        for m in range(5)
    ]
    text = "\n".join(json.dumps(r) for r in rows)
    return text + "\nnot json\n" + json.dumps({"device_id": "NOPE", "time": now.isoformat()}) + "\n"


@pytest.mark.parametrize("publish", [False, True])
def test_load_with_progress_and_a_summary(tmp_path, box, camera, capsys, publish):
    now = datetime.datetime.now(datetime.UTC)
    path = tmp_path / "reports.jsonl"
    path.write_text(lines(box, camera, now))
    call_command("load_counter_reports", str(path), *(["--publish"] if publish else []))
    out, err = capsys.readouterr()
    assert "5 stored, 0 duplicates, 2 rejected; 1 incidents opened" in out
    assert "line 6: not JSON" in err and "line 7: no Box 'NOPE'" in err
    assert "7/7" not in err and "\r" not in err  # no bar: stderr is not a terminal
    assert CounterReport.objects.count() == 5
    incident = Incident.objects.get()
    assert incident.historical is not publish
    assert Event.objects.filter(type="incident.created").count() == (1 if publish else 0)
    call_command("load_counter_reports", str(path))  # again: duplicates, nothing new
    assert "0 stored, 5 duplicates" in capsys.readouterr().out
    assert Incident.objects.count() == 1


def test_a_terminal_gets_a_progress_bar(tmp_path, box, camera):
    path = tmp_path / "reports.jsonl"
    path.write_text(lines(box, camera, datetime.datetime.now(datetime.UTC)))
    terminal = Terminal()
    call_command("load_counter_reports", str(path), stderr=terminal)
    drawn = terminal.getvalue()
    assert "100%" in drawn and "7/7 [" in drawn and "lines/s]" in drawn
    assert "line 6: not JSON" in drawn  # the problems follow the bar
