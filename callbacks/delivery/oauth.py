"""OAuth2 client credentials: an endpoint's access token, one token request per endpoint per
token lifetime across every worker (docs/callbacks.md, "OAuth2 client credentials").

Each process keeps the token it last saw until 75 % of its ``expires_in``; when that has
passed (or the receiver answered 401 to it) the process locks the endpoint's
``OAuthToken`` row, takes the token another worker stored meanwhile if there is one, and
otherwise asks the token server (through the SSRF guard) and stores the answer, encrypted.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import threading
from dataclasses import dataclass
from urllib.parse import quote_plus

import aiohttp
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from callbacks.delivery.policy import readable_error
from callbacks.egress import AddressRefused, GuardedResolver, preflight
from callbacks.models import OAuthToken

REFRESH_AT = 0.75  # of expires_in
DEFAULT_LIFETIME = 3600.0  # seconds, when the token server gives no expires_in


@dataclass(frozen=True)
class Client:
    """An endpoint's client credentials."""

    endpoint_id: int
    token_url: str
    client_id: str
    client_secret: str
    scope: str


class TokenError(Exception):
    """The token server could not be asked, or did not give a token."""


# Keyed by the credentials themselves: changed ones never use a token fetched with others.
_seen: dict[Client, tuple[str, datetime.datetime]] = {}
_seen_lock = threading.Lock()


def cached(client: Client) -> str | None:
    """The token this process last saw for the endpoint, while it is not due for refresh."""
    with _seen_lock:
        entry = _seen.get(client)
    return entry[0] if entry and entry[1] > timezone.now() else None


def token(client: Client, refused: str | None = None) -> str:
    """The endpoint's current token (blocking: run it off the event loop). Asks the token
    server when none is stored, the stored one is due for refresh, or it is ``refused``."""
    try:
        return _token(client, refused)
    finally:
        connection.close()  # a pool thread's: tokens are rare, connections are not free


def _token(client: Client, refused: str | None) -> str:
    with transaction.atomic():
        row, _ = OAuthToken.objects.select_for_update().get_or_create(
            endpoint_id=client.endpoint_id)
        now = timezone.now()
        if row.token and row.refresh_at and row.refresh_at > now and row.token != refused:
            value, refresh_at = row.token, row.refresh_at
        else:
            value, lifetime = asyncio.run(_request(client))
            refresh_at = now + datetime.timedelta(seconds=REFRESH_AT * lifetime)
            OAuthToken.objects.filter(pk=row.pk).update(
                token=value, fetched_at=now, refresh_at=refresh_at, requests=row.requests + 1)
    with _seen_lock:
        if len(_seen) > 10_000:
            _seen.clear()
        _seen[client] = (value, refresh_at)
    return value


def basic(client: Client) -> str:
    """client_secret_basic (RFC 6749, 2.3.1): id and secret form-encoded, then Basic."""
    pair = f"{quote_plus(client.client_id)}:{quote_plus(client.client_secret)}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


async def _request(client: Client) -> tuple[str, float]:
    """Ask the token server (client_secret_basic); return the token and its lifetime."""
    form = {"grant_type": "client_credentials", **({"scope": client.scope} if client.scope
                                                   else {})}
    timeout = aiohttp.ClientTimeout(total=settings.CALLBACK_TIMEOUT,
                                    connect=settings.CALLBACK_CONNECT_TIMEOUT)
    try:
        preflight(client.token_url)
        connector = aiohttp.TCPConnector(resolver=GuardedResolver(), use_dns_cache=False)
        async with (
            aiohttp.ClientSession(connector=connector, trust_env=False) as session,
            session.post(client.token_url, data=form, allow_redirects=False, timeout=timeout,
                         headers={"Accept": "application/json",
                                  "Authorization": basic(client)}) as response,
        ):
            status = response.status
            answer = await response.json(content_type=None) if status == 200 else None
    except AddressRefused as exc:
        raise TokenError(f"OAuth2 token request refused: {exc}") from None
    except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
        raise TokenError("OAuth2 token request failed: "
                         f"{readable_error(exc, settings.CALLBACK_TIMEOUT)}") from None
    if status != 200:
        raise TokenError(f"OAuth2 token request failed: the token server answered {status}")
    if not isinstance(answer, dict):
        raise TokenError("OAuth2 token request failed: the answer is not a JSON object")
    value = answer.get("access_token")
    if not isinstance(value, str) or not value:
        raise TokenError("OAuth2 token request failed: the answer has no access_token")
    if str(answer.get("token_type", "bearer")).lower() != "bearer":
        raise TokenError("OAuth2 token request failed: the token is not a bearer token")
    lifetime = answer.get("expires_in", DEFAULT_LIFETIME)
    if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or lifetime <= 0:
        lifetime = DEFAULT_LIFETIME
    return value, float(lifetime)
