"""Sending attempts over HTTP under the one policy.

- ``AsyncSender``: aiohttp, many attempts concurrently (the worker's batches).
- ``send_sync``: requests, one attempt (test events sent in-process, the CLI).

Both: total deadline, no redirects, no proxies from the environment, TLS
verified, response read up to a cap, and the SSRF guard at connect time
(every resolved address checked, the connection pinned to a checked one).
"""

from __future__ import annotations

import asyncio
import datetime
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import requests
import urllib3
from aiohttp.abc import AbstractResolver, ResolveResult
from django.conf import settings
from django.utils import timezone
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from callbacks.delivery import guard
from callbacks.delivery.policy import Job, Request, Result, build_request, readable_error


def _now() -> datetime.datetime:
    return timezone.now()


def _decode(body: bytes) -> str:
    return body.decode("utf-8", errors="replace")


def _preflight(request: Request) -> None:
    """Refuse a literal address before any connection (aiohttp skips resolvers for them)."""
    parts = urlsplit(request.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise guard.AddressRefused(f"{request.url!r} is not an http(s) URL with a host")
    guard.check_literal(parts.hostname)


# --- aiohttp -----------------------------------------------------------------


class GuardedResolver(AbstractResolver):
    """Resolve through the guard: every address checked; only checked ones returned."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        loop = asyncio.get_running_loop()
        pairs = await loop.run_in_executor(None, guard.resolve, host, port)
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=fam,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for fam, address in pairs
        ]

    async def close(self) -> None:
        return None


class AsyncSender:
    """One aiohttp session per event loop, reused across batches (keep-alive)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.session: aiohttp.ClientSession | None = None

    async def open(self) -> aiohttp.ClientSession:
        if self.session is None or self.session.closed:
            connector = aiohttp.TCPConnector(
                resolver=GuardedResolver(),
                limit=self.limit,
                use_dns_cache=False,
                enable_cleanup_closed=True,
            )
            self.session = aiohttp.ClientSession(
                connector=connector,
                trust_env=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                skip_auto_headers=("User-Agent",),
            )
        return self.session

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()

    async def send(self, job: Job) -> Result:
        request = build_request(job, int(time.time()))
        started = _now()
        result = Result(job=job, request=request, started_at=started, finished_at=started)
        timeout = aiohttp.ClientTimeout(
            total=settings.CALLBACK_TIMEOUT, connect=settings.CALLBACK_CONNECT_TIMEOUT
        )
        try:
            _preflight(request)
            session = await self.open()
            async with session.request(
                request.method,
                request.url,
                headers=request.headers,
                data=request.body,
                allow_redirects=False,
                timeout=timeout,
            ) as response:
                body = await response.content.read(settings.CALLBACK_RESPONSE_MAX_BYTES)
                result.status = response.status
                result.response_headers = list(response.headers.items())
                result.response_body = _decode(body)
        except guard.AddressRefused as exc:
            result.error, result.refused = f"Refused: {exc}", True
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            result.error = readable_error(exc, settings.CALLBACK_TIMEOUT)
            result.refused = result.error.startswith("Refused:")
        result.finished_at = _now()
        return result


# --- requests ----------------------------------------------------------------


class _GuardedConnectionMixin:
    """Connect to a guard-checked address; Host and SNI keep the name."""

    def _new_conn(self) -> socket.socket:
        host, port = self._dns_host, self.port  # type: ignore[attr-defined]
        try:
            pairs = guard.resolve(host, port)
        except socket.gaierror as exc:
            raise urllib3.exceptions.NameResolutionError(host, self, exc) from exc
        last: OSError | None = None
        for family, address in pairs:
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)  # type: ignore[attr-defined]
            try:
                sock.connect((address, port))
                return sock
            except TimeoutError as exc:
                sock.close()
                raise urllib3.exceptions.ConnectTimeoutError(
                    self, f"Connection to {host} timed out"
                ) from exc
            except OSError as exc:
                sock.close()
                last = exc
        raise urllib3.exceptions.NewConnectionError(self, f"Failed to connect: {last}") from last


class GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


class GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": GuardedHTTPConnectionPool,
            "https": GuardedHTTPSConnectionPool,
        }


def sync_session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.max_redirects = 0
    adapter = GuardedAdapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def send_sync(job: Job, session: requests.Session | None = None) -> Result:
    """Send one attempt with requests and return what happened."""
    request = build_request(job, int(time.time()))
    started = _now()
    result = Result(job=job, request=request, started_at=started, finished_at=started)
    deadline = time.monotonic() + settings.CALLBACK_TIMEOUT
    own = session is None
    session = session or sync_session()
    try:
        _preflight(request)
        with session.request(
            request.method,
            request.url,
            headers=dict(request.headers),
            data=request.body,
            allow_redirects=False,
            stream=True,
            timeout=(settings.CALLBACK_CONNECT_TIMEOUT, settings.CALLBACK_TIMEOUT),
        ) as response:
            result.status = response.status_code
            result.response_headers = list(response.headers.items())
            result.response_body = _decode(_read_capped(response, deadline))
    except guard.AddressRefused as exc:
        result.error, result.refused = f"Refused: {exc}", True
    except (requests.RequestException, OSError, TimeoutError, ValueError) as exc:
        result.error = readable_error(exc, settings.CALLBACK_TIMEOUT)
        result.refused = result.error.startswith("Refused:")
    finally:
        if own:
            session.close()
    result.finished_at = _now()
    return result


def _read_capped(response: requests.Response, deadline: float) -> bytes:
    cap = settings.CALLBACK_RESPONSE_MAX_BYTES
    body = b""
    for chunk in response.iter_content(chunk_size=4096):
        body += chunk
        if len(body) >= cap:
            break
        if time.monotonic() > deadline:
            raise TimeoutError("deadline passed while reading the body")
    return body[:cap]
