"""`receive_callbacks --secret S` accepts a genuine callback with any method an endpoint
may use, and refuses (401) one signed with another secret or ten minutes ago."""

import io
import subprocess
import sys
import threading

import pytest
from django.core.management import CommandError, call_command

from callbacks.management.commands.receive_callbacks import make_server
from callbacks.models import Method
from callbacks.signing import new_secret
from tests.processes import ROOT, child_env, free_port
from tests.support.embedded import wait_for
from tests.support.signed_callbacks import SECRET, callback, send


@pytest.mark.parametrize("method", Method.values)
def test_accepts_a_genuine_callback_with_any_method(receive_command_server, method):
    port, lines = receive_command_server
    assert send(callback(port, method)) == 200
    assert "camera.created webhook-id=evt-1 -> 200 verified" in lines[0]
    assert lines[0].split()[1] == method


def test_accepts_either_signature_during_a_rotation(receive_command_server):
    port, lines = receive_command_server
    assert send(callback(port, secrets=(new_secret(), SECRET))) == 200
    assert "verified" in lines[0]


def test_refuses_another_secret(receive_command_server):
    port, lines = receive_command_server
    assert send(callback(port, secrets=(new_secret(),))) == 401
    assert "-> 401 REFUSED (No matching signature found)" in lines[0]


def test_refuses_a_timestamp_ten_minutes_old(receive_command_server):
    port, lines = receive_command_server
    assert send(callback(port, age=600)) == 401
    assert "REFUSED (Message timestamp too old)" in lines[0]


def test_refuses_a_malformed_signature(receive_command_server):
    port, lines = receive_command_server
    request = callback(port)
    request.headers = [(k, "nonsense" if k == "webhook-signature" else v)
                       for k, v in request.headers]
    assert send(request) == 401
    assert "REFUSED" in lines[0]


def test_without_a_secret_every_callback_is_printed_unverified():
    lines: list[str] = []
    server = make_server("127.0.0.1", 0, "", 202, lines.append)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert send(callback(server.server_address[1], secrets=(new_secret(),))) == 202
    finally:
        server.shutdown()
        server.server_close()
    assert "-> 202 not verified" in lines[0]
    assert '"type": "camera.created"' in "\n".join(lines)


def test_a_secret_that_is_not_one_is_refused_at_start():
    with pytest.raises(CommandError, match="not a whsec_"):
        call_command("receive_callbacks", port=free_port(), secret="whsec_", stdout=io.StringIO())


def test_the_command_accepts_and_refuses(tmp_path):
    port = free_port()
    log = tmp_path / "receiver.log"
    with log.open("w") as out:
        command = subprocess.Popen(
            [sys.executable, "manage.py", "receive_callbacks", "--port", str(port),
             "--secret", SECRET],
            cwd=ROOT, env=child_env(), stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: "Receiving callbacks" in log.read_text(), 30, "the receiver")
        assert send(callback(port, "PUT")) == 200
        assert send(callback(port, secrets=(new_secret(),))) == 401
        assert send(callback(port, age=600)) == 401
        wait_for(lambda: log.read_text().count("webhook-id=evt-1") == 3, 10, "three lines")
    finally:
        command.terminate()
        command.wait(timeout=10)
    text = log.read_text()
    assert "PUT /camio camera.created webhook-id=evt-1 -> 200 verified" in text
    assert text.count("-> 401 REFUSED") == 2
