"""``Authorization: token <t>`` (Camio's scheme) or ``Bearer <t>``, every kind of token."""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from domains.services.tokens import token_find

SCHEMES = ("token", "bearer")


class TokenAuthentication(BaseAuthentication):
    """Authenticate by API token; ``request.auth`` is the ApiToken (its kind is checked
    by the route's permission, so a wrong kind answers 403, not 401)."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = get_authorization_header(request).decode("latin-1")
        scheme, _, raw = header.partition(" ")
        if scheme.lower() not in SCHEMES:
            return None  # no header, or another scheme: let the next authenticator try
        raw = raw.strip()
        if not raw or " " in raw:
            raise AuthenticationFailed("Send the token as 'Authorization: Bearer <token>'.")
        token = token_find(raw)
        if token is None:
            raise AuthenticationFailed("This token is unknown or was revoked.")
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'
