"""``/healthz`` and ``/readyz``, for a supervisor and a load balancer.

``/healthz``: the process answers (200 ``{"status": "ok"}``), so a restart would not help
it; nothing else is checked. ``/readyz``: whether to send it new clients: 200
``{"status": "ready"}``, or 503 ``{"status": "not ready", "reasons": [...]}`` while it
drains (SIGTERM: ``Node.draining``, set by ``openline.app.drain``, or the engine's and
bridge's own flags) or while its configured Redis is unreachable (``RedisManager.up``:
it then serves its own clients only). Both are JSON and never cached.
"""

from __future__ import annotations

from aiohttp import web

from .node import NODE_KEY

NO_STORE = {"Cache-Control": "no-store"}


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"}, headers=NO_STORE)


async def readyz(request: web.Request) -> web.Response:
    reasons = request.app[NODE_KEY].not_ready()
    if reasons:
        return web.json_response({"status": "not ready", "reasons": reasons}, status=503,
                                 headers=NO_STORE)
    return web.json_response({"status": "ready"}, headers=NO_STORE)
