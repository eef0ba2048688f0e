"""An attempt as a curl command that sends it again (copy as curl), secrets masked unless
revealed."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from callbacks.models import (
    Attempt,
)
from callbacks.signing import signature_header
from domains.formats import MASK, mask_url


def placeholder(name: str) -> str:
    """``$CAMIO_AUTHORIZATION`` for ``Authorization``: what copy-as-curl shows for secrets."""
    return "$CAMIO_" + re.sub(r"[^A-Za-z0-9]+", "_", name).upper()

@dataclass
class FreshSignature:
    """What signs a copied curl command anew: the event id (webhook-id), the endpoint's
    current secrets and the moment the command is shown."""

    event_id: str
    secrets: list[str]
    timestamp: int
    # (key id, whsk_ key) of each ed25519 key that signs now (v1a), newest first.
    ed25519: list[tuple[str, str]] = field(default_factory=list)

HOW_TO_SIGN = (
    "# Placeholders stand for secret values; \"Show real values\" gives a command signed\n"
    "# just now (valid for 5 minutes). To sign it yourself: webhook-timestamp is the Unix\n"
    "# time, and webhook-signature is v1,<base64 of HMAC-SHA256(key, \"<webhook-id>.\n"
    "# <webhook-timestamp>.<body>\")>, the key being the base64 after whsec_ in the\n"
    "# endpoint's signing secret."
)

def attempt_as_curl(
    attempt: Attempt, body: bytes | None, real_headers: dict[str, str] | None = None,
    signature: FreshSignature | None = None, endpoint_url: str | None = None,
) -> str:
    """Return a curl command repeating ``attempt``, one ``-H 'name: value'`` per line.

    Masked values become placeholders and the command says how to sign. Given the
    endpoint's stored ``real_headers`` (and its ``endpoint_url``, for a URL that was masked)
    and a ``signature``, it carries the real values and a ``webhook-timestamp`` and
    ``webhook-signature`` made now, so running it passes Standard Webhooks verification
    for five minutes."""
    real = {k.lower(): v for k, v in (real_headers or {}).items()}
    url = attempt.request_url
    if endpoint_url and signature is not None:
        # The attempt's URL is the masked endpoint URL (plus a GET's query): unmask it.
        masked = mask_url(endpoint_url)
        if url.startswith(masked):
            url = endpoint_url + url[len(masked):]
    # -X HEAD would make curl wait for a body that never comes: --head expects none.
    verb = "--head" if attempt.request_method == "HEAD" else f"-X {attempt.request_method}"
    lines = [f"curl {verb} {shlex.quote(url)}"]
    fresh: dict[str, str] = {}
    if signature is not None:
        fresh["webhook-timestamp"] = str(signature.timestamp)
        fresh["webhook-signature"] = signature_header(
            signature.secrets, signature.event_id, signature.timestamp, body or b"",
            [secret for _, secret in signature.ed25519])
        if signature.ed25519:
            fresh["webhook-key-id"] = " ".join(kid for kid, _ in signature.ed25519)
    for name, value in attempt.request_headers:
        if name.lower() in fresh:
            value = fresh[name.lower()]
        elif value == MASK:
            value = real.get(name.lower(), placeholder(name))
        if value.startswith("$CAMIO_"):
            lines.append(f'-H "{name}: {value}"')  # the shell fills the placeholder in
        else:
            lines.append(f"-H {shlex.quote(f'{name}: {value}')}")
    if body:
        lines.append(f"--data-binary {shlex.quote(body.decode())}")
    command = " \\\n  ".join(lines)
    return command if signature is not None else f"{HOW_TO_SIGN}\n{command}"
