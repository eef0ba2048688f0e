"""The "Verifying callbacks" examples of docs/callbacks.md, run exactly as written, accept a
delivered callback and reject it with a changed body or a six-minute-old timestamp."""

from __future__ import annotations

import re
import time

import pytest
from standardwebhooks.webhooks import WebhookVerificationError

from callbacks import services as callback_services
from callbacks.signing import new_secret, sign, signature_header
from domains import services
from tests.receiver import Received, wait_for
from tests.support.docs import section

EXAMPLE = re.compile(
    r"^<!-- verify-example: (?P<name>[\w-]+) -->\n```python\n(?P<code>.*?)^```$",
    re.MULTILINE | re.DOTALL,
)
# What counts as refusing a callback: returning something falsy, or raising one of
# these (anything else, such as a NameError, is a broken example and fails the test).
REFUSALS = (ValueError, WebhookVerificationError)


def readme_examples() -> dict[str, str]:
    found = [(m["name"], m["code"]) for m in EXAMPLE.finditer(section("Verifying callbacks"))]
    names = [name for name, _ in found]
    assert sorted(names) == ["standardwebhooks", "stdlib"], names
    return dict(found)


def load_verify(name: str):
    """exec() the documented code block unchanged into a fresh namespace; return its verify."""
    namespace: dict[str, object] = {"__name__": f"readme_verify_{name}"}
    exec(compile(readme_examples()[name], f"docs/callbacks.md <{name} example>", "exec"), namespace)
    verify = namespace.get("verify")
    assert callable(verify), f"the {name} example defines no verify()"
    return verify


def accepts(verify, secret: str, headers: dict[str, str], body: bytes) -> bool:
    try:
        result = verify(secret, dict(headers), body)
    except REFUSALS:
        return False
    return result is not False and result is not None


def test_readme_has_both_examples():
    examples = readme_examples()
    assert "Webhook(secret).verify(" in examples["standardwebhooks"]
    assert "import standardwebhooks" not in examples["stdlib"]
    assert "from standardwebhooks" not in examples["stdlib"]


@pytest.mark.parametrize("example", ["standardwebhooks", "stdlib"])
@pytest.mark.django_db(transaction=True)
def test_example_accepts_a_delivered_callback_and_rejects_tampering(
    example, worker, receiver, endpoint_for, box, acme_admin
):
    verify = load_verify(example)
    endpoint = endpoint_for(receiver.url, ["camera.created"])
    camera = services.camera_create(owner=acme_admin, device=box, name="Verify Me")
    wait_for(lambda: len(receiver.received) == 1, what="the delivered callback")
    delivered: Received = receiver.received[0]
    secret = callback_services.endpoint_reveal_secret(endpoint=endpoint, actor=acme_admin)
    headers, body = delivered.headers, delivered.body
    msg_id = headers["webhook-id"]
    assert delivered.method == "POST" and body

    # The callback exactly as delivered is accepted, and the payload is the event.
    payload = verify(secret, dict(headers), body)
    assert payload["type"] == "camera.created"
    assert payload["id"] == msg_id
    assert payload["data"]["object"]["camera"]["camera_id"] == camera.camera_id
    assert accepts(verify, secret, headers, body)

    # The same headers with one byte of the body changed are rejected.
    index = body.index(b"Verify Me")
    tampered = body[:index] + b"v" + body[index + 1 :]
    assert len(tampered) == len(body) and tampered != body
    assert not accepts(verify, secret, headers, tampered)

    # The unchanged body, genuinely re-signed with a timestamp six minutes old, is
    # rejected; re-signed now (control), it is accepted.
    def resigned(timestamp: int) -> dict[str, str]:
        return {
            **headers,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, msg_id, timestamp, body),
        }

    now = int(time.time())
    assert accepts(verify, secret, resigned(now), body)
    assert not accepts(verify, secret, resigned(now - 360), body)

    # Another endpoint's secret is rejected; during a rotation either signature passes.
    assert not accepts(verify, new_secret(), headers, body)
    stamp = int(headers["webhook-timestamp"])
    both = signature_header([new_secret(), secret], msg_id, stamp, body)
    assert accepts(verify, secret, {**headers, "webhook-signature": both}, body)
