"""A Python client generated from /api/schema/ by openapi-python-client keeps every route
and model, imports, and talks to a live portal: a user, a Box and a PACS gateway each
calling their own routes (P19: the generator used to drop the counter route, JsonValue
and five request schemas, and the generated gateway module failed to import)."""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

from callbacks.models import Endpoint
from incidents.models import CounterReport
from pacs.models import PacsEvent
from tests.support.schema import ONGUARD_EVENT

PACKAGE = "camio_portal_client"


def generate(schema: dict, folder: Path) -> str:
    """Generate the client into ``folder``/PACKAGE; return what the generator printed."""
    (folder / "schema.json").write_text(json.dumps(schema))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", "--meta", "none",
         "--path", str(folder / "schema.json"), "--output-path", str(folder / PACKAGE)],
        capture_output=True, text=True, timeout=300, env=env, cwd=folder, check=False,
    )
    printed = done.stdout + done.stderr
    assert done.returncode == 0, printed
    return printed


@pytest.mark.django_db(transaction=True)
def test_a_generated_client_keeps_every_route_and_calls_the_gateways(
    live_server, tmp_path, token_for, client_with, schema_world, monkeypatch
):
    user_token = token_for(schema_world.admin)
    schema = client_with(user_token).get("/api/schema/?format=json").json()
    printed = generate(schema, tmp_path)
    assert "Unable to" not in printed and "will not be generated" not in printed, printed
    assert "Warning" not in printed, printed

    monkeypatch.syspath_prepend(str(tmp_path))
    package = importlib.import_module(PACKAGE)
    modules = [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(package.__path__, f"{PACKAGE}.")
    ]
    operations = sum(len(ops) for ops in schema["paths"].values())
    endpoints = [m for m in modules if hasattr(m, "sync_detailed")]
    assert len(endpoints) == operations  # one module per operation, none dropped

    # Imported by name: the package exists only in this test's folder.
    client_class = package.AuthenticatedClient
    counters = importlib.import_module(f"{PACKAGE}.api.incidents.devices_counters_create")
    webhooks = importlib.import_module(f"{PACKAGE}.api.pacs_gateway.pacs_webhooks_create")
    users_me = importlib.import_module(f"{PACKAGE}.api.users.users_me")
    models = importlib.import_module(f"{PACKAGE}.models")

    def client_for(header: dict[str, str]):
        scheme, token = header["Authorization"].split(" ", 1)
        return client_class(base_url=live_server.url, token=token, prefix=scheme)

    me = users_me.sync_detailed(client=client_for({"Authorization": f"token {user_token}"}))
    assert me.status_code == 200 and me.parsed.email == schema_world.admin.email

    body = schema_world.valid_request("POST", "/api/devices/{device_id}/counters")["body"]
    box = client_for(schema_world.box_auth())
    device_id = schema_world.device().device_id
    answer = counters.sync_detailed(
        device_id=device_id, client=box, body=models.BatchInRequest.from_dict(body)
    )
    assert answer.status_code == 202, answer.content
    assert CounterReport.objects.filter(device=schema_world.device()).count() == 1

    gateway = client_for(schema_world.pacs_auth())
    answer = webhooks.sync_detailed(
        client=gateway, body=models.PacsEventsInRequest.from_dict({"events": [ONGUARD_EVENT]})
    )
    assert answer.status_code == 202, answer.content
    assert json.loads(answer.content)["accepted"] == [0]
    assert PacsEvent.objects.count() == 1

    # P16: an endpoint with a payload filter, an operational subscription and its own
    # retry policy, made and read back through the generated models.
    create = importlib.import_module(f"{PACKAGE}.api.endpoints.endpoints_create")
    wanted = {"data.object.events.camio_metadata.labels": "entry.ajar.started"}
    user = client_for({"Authorization": f"token {user_token}"})
    answer = create.sync_detailed(client=user, body=models.EndpointInRequest.from_dict({
        "url": "https://hooks.example.com/ops", "event_types": ["endpoint.failing",
                                                                  "pacs.events.created"],
        "filter": wanted, "retry_schedule": [0, 60, 600], "attempt_timeout": 5}))
    assert answer.status_code == 201, answer.content
    made = answer.parsed.to_dict()
    assert made["filter"] == wanted and made["retry_schedule"] == [0, 60, 600]
    endpoint = Endpoint.objects.get(endpoint_id=made["endpoint_id"])
    assert endpoint.payload_filter == wanted and endpoint.filter_path
    assert "endpoint.failing" in endpoint.event_types and endpoint.attempt_timeout == 5
