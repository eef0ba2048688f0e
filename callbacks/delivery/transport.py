"""How a callback gets there: attempts sent over HTTP under the one policy, with aiohttp.

Total deadline, no redirects, no proxies from the environment, TLS verified, response
read up to a cap, and the SSRF guard (callbacks.egress) at connect time: every resolved
address checked, the connection pinned to a checked one. ``AsyncSender`` sends the
worker's batches concurrently; ``send_one`` sends a single attempt (the command line's
test event) through the same code.

Through ``CALLBACK_PROXY_URL`` (unless the host is in ``CALLBACK_NO_PROXY``) the
destination is resolved and checked here first and the proxy is asked for the checked
address: ``CONNECT <address>:<port>`` for https (TLS still names and verifies the host),
an absolute-form request naming the address for http, the Host header kept either way.
The proxy's own address is configuration, not judged.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime
import time
from dataclasses import replace
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from django.conf import settings
from django.utils import timezone

from callbacks import tracing
from callbacks.delivery import oauth
from callbacks.delivery.oauth import TokenError
from callbacks.delivery.policy import Job, Result, build_request, readable_error
from callbacks.egress import AddressRefused, GuardedResolver, preflight, resolve


def _now() -> datetime.datetime:
    return timezone.now()


class AsyncSender:
    """One aiohttp session per event loop, reused across batches (keep-alive)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.session: aiohttp.ClientSession | None = None
        self.proxied: aiohttp.ClientSession | None = None

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

    async def open_proxied(self) -> aiohttp.ClientSession:
        """The session for the proxy: destinations come checked and as addresses, so its
        resolver only ever resolves the proxy's own host."""
        if self.proxied is None or self.proxied.closed:
            self.proxied = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.limit, enable_cleanup_closed=True),
                trust_env=False, cookie_jar=aiohttp.DummyCookieJar(),
                skip_auto_headers=("User-Agent",))
        return self.proxied

    async def close(self) -> None:
        for session in (self.session, self.proxied):
            if session is not None:
                await session.close()

    async def send(self, job: Job) -> Result:
        span, trace = tracing.start_attempt(job.event_id, job.delivery_id, job.attempt_number,
                                            job.traceparent, job.tracestate)
        try:
            result = await self._send(job, trace)
        except BaseException as exc:  # cancelled (a worker stopping) or a bug: end the span
            tracing.end_attempt(span, None, f"{type(exc).__name__}: not sent")
            raise
        tracing.end_attempt(span, result.status, result.error)
        return result

    async def _send(self, job: Job, trace: list[tuple[str, str]]) -> Result:
        request = build_request(job, int(time.time()), trace)
        started = _now()
        result = Result(job=job, request=request, started_at=started, finished_at=started)
        deadline = job.timeout or settings.CALLBACK_TIMEOUT  # the endpoint's own, if any
        timeout = aiohttp.ClientTimeout(
            total=deadline, connect=min(settings.CALLBACK_CONNECT_TIMEOUT, deadline)
        )
        try:
            preflight(job.url)
            bearer = await _bearer(job) if job.oauth else None
            await self._exchange(job, result, timeout, bearer)
            if bearer and result.status == 401:  # refused: one fresh token, one more try
                bearer = await _bearer(job, refused=bearer)
                await self._exchange(job, result, timeout, bearer)
        except TokenError as exc:
            result.error = str(exc)
        except AddressRefused as exc:
            result.error, result.refused = f"Refused: {exc}", True
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            result.error = readable_error(exc, deadline)
            result.refused = result.error.startswith("Refused:")
            proxy_password = urlsplit(settings.CALLBACK_PROXY_URL).password
            if proxy_password:  # an error naming the proxy never carries its credentials
                result.error = result.error.replace(proxy_password, "••••••")
        result.finished_at = _now()
        return result

    async def _exchange(self, job: Job, result: Result, timeout: aiohttp.ClientTimeout,
                        bearer: str | None) -> None:
        """Send the request (with ``bearer`` as its Authorization) and read the answer
        into ``result``."""
        request = result.request
        if bearer is not None:
            headers = [h for h in request.headers if h[0].lower() != "authorization"]
            request = result.request = replace(
                request, headers=[*headers, ("Authorization", f"Bearer {bearer}")])
        url, headers, extra = request.url, request.headers, {}
        if proxied(job.url):
            url, host, name = await pinned(request.url)
            headers = [*headers, ("Host", host)]
            extra = {"proxy": settings.CALLBACK_PROXY_URL, "server_hostname": name}
            session = await self.open_proxied()
        else:
            session = await self.open()
        async with session.request(
            request.method,
            url,
            headers=headers,
            data=request.body,
            allow_redirects=False,
            timeout=timeout,
            ssl=job.tls if job.tls is not None else True,
            **extra,
        ) as response:
            body = await response.content.read(settings.CALLBACK_RESPONSE_MAX_BYTES)
            result.status = response.status
            result.response_headers = list(response.headers.items())
            result.response_body = body.decode("utf-8", errors="replace")


async def _bearer(job: Job, refused: str | None = None) -> str:
    """The endpoint's OAuth2 token: this process's while it is fresh, else from the shared
    row or the token server (blocking work, off the event loop)."""
    assert job.oauth is not None
    found = oauth.cached(job.oauth) if refused is None else None
    if found:
        return found
    return await asyncio.get_running_loop().run_in_executor(None, oauth.token, job.oauth,
                                                            refused)


def proxied(url: str) -> bool:
    """Whether a callback to ``url`` goes through CALLBACK_PROXY_URL."""
    if not settings.CALLBACK_PROXY_URL:
        return False
    host = (urlsplit(url).hostname or "").lower()
    for entry in settings.CALLBACK_NO_PROXY:
        entry = entry.strip().lower().lstrip(".")
        if entry == "*" or host == entry or host.endswith(f".{entry}"):
            return False
    return True


async def pinned(url: str) -> tuple[str, str, str | None]:
    """Resolve and check ``url``'s host (egress.resolve refuses what the guard refuses);
    return the URL naming the first checked address, the Host header (as in the URL) and
    the name TLS verifies (None for http)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    loop = asyncio.get_running_loop()
    [(_, address), *_] = await loop.run_in_executor(None, resolve, host, port)
    userinfo, at, host_port = parts.netloc.rpartition("@")
    dialled = f"[{address}]" if ":" in address else address
    netloc = f"{userinfo}{at}{dialled}:{port}"
    return (urlunsplit(parts._replace(netloc=netloc)), host_port,
            host if parts.scheme == "https" else None)


def send_one(job: Job) -> Result:
    """Send one attempt from synchronous code, on a loop and session of its own."""

    async def run() -> Result:
        sender = AsyncSender(limit=1)
        try:
            return await sender.send(job)
        finally:
            await sender.close()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(run())
    # This thread already runs a loop (a caller embedding us): use a thread of our own.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, run()).result()
