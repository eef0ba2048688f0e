"""A loopback OAuth2 token server for the tests, and an endpoint's credentials for it."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs

from tests.receiver import Receiver

SECRET = "s3cr3t-client-v4lue"


def token_server() -> Receiver:
    """A token endpoint: client_secret_basic checked, tok-1, tok-2... in turn."""

    def answer(index, request):
        user, _, password = base64.b64decode(
            request.headers["authorization"].split()[1]).decode().partition(":")
        form = parse_qs(request.body.decode())
        if (user, password) != ("camio", SECRET) or form["grant_type"] != ["client_credentials"]:
            return 401, {}, b'{"error": "invalid_client"}'
        body = {"access_token": f"tok-{index + 1}", "token_type": "Bearer", "expires_in": 3600}
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    return Receiver(answer=answer)


def credentials(tokens: Receiver) -> dict[str, str]:
    return {"oauth_token_url": f"{tokens.url}/token", "oauth_client_id": "camio",
            "oauth_client_secret": SECRET, "oauth_scope": "callbacks"}
