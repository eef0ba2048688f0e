"""A fast loopback receiver for the benchmark (aiohttp, one process).

    python bench/receiver.py PORT

Answers 200 at once on every path except /hang/..., which never answers before
the sender gives up, /slow/..., which answers 200 after 2 s, and /flaky/..., which
answers 500 between POST /_down and POST /_up (a 500 is not recorded as received).
Records (webhook-id, receipt time, path) for GET /_dump; GET /_count answers the
number received (``?prefix=/e``: on paths starting so).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from aiohttp import web

received: list[tuple[str, float, str]] = []
state = {"down": False}  # POST /_down and /_up: /flaky answers 500 while down


async def handle(request: web.Request) -> web.Response:
    await request.read()
    if request.path.startswith("/flaky") and state["down"]:
        return web.Response(status=500, text="down")
    received.append((request.headers.get("webhook-id", ""), time.time(), request.path))
    if request.path.startswith("/hang"):
        await asyncio.sleep(3600)
    elif request.path.startswith("/slow"):
        await asyncio.sleep(2)
    return web.Response(text="ok")


async def count(request: web.Request) -> web.Response:
    prefix = request.query.get("prefix", "")
    if not prefix:
        return web.Response(text=str(len(received)))
    return web.Response(text=str(sum(1 for _, _, path in received if path.startswith(prefix))))


async def dump(request: web.Request) -> web.Response:
    return web.Response(text=json.dumps(received), content_type="application/json")


async def reset(request: web.Request) -> web.Response:
    received.clear()
    return web.Response(text="0")


async def down(request: web.Request) -> web.Response:
    state["down"] = request.path == "/_down"
    return web.Response(text=str(state["down"]))


def main() -> None:
    app = web.Application()
    app.router.add_post("/_down", down)
    app.router.add_post("/_up", down)
    app.router.add_get("/_count", count)
    app.router.add_get("/_dump", dump)
    app.router.add_post("/_reset", reset)
    app.router.add_route("*", "/{tail:.*}", handle)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)


if __name__ == "__main__":
    main()
