"""``create_app(config)``: the aiohttp application with Socket.IO mounted at /socket.io/."""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from . import app_hooks, demo
from .bridge.sessions import Bridge
from .cluster import api
from .cluster import redis_manager as cluster
from .config import Config
from .engine import Engine
from .net import http_guard
from .plugins import Plugin, load
from .realtime.server import OpenlineServer
from .recovery import store_for

log = logging.getLogger("openline.app")

CONFIG_KEY = web.AppKey("config", Config)
SIO_KEY = web.AppKey("sio", OpenlineServer)
PLUGINS_KEY = web.AppKey("plugins", list)
DRAIN_KEY = web.AppKey("drain", list)  # drain(deadline) steps run by drain() below


def create_app(config: Config) -> web.Application:
    """Discover plugins, build the Socket.IO server and mount everything on one app.

    Raises PluginError when a plugin is unusable; nothing is started until the app runs.
    """
    found = load(config)
    plugins = found.namespaces
    sio = OpenlineServer(config, client_manager=cluster.client_manager(config),
                         recovery=store_for(config))
    for plugin in plugins:
        sio.register_namespace(plugin.namespace)

    app = web.Application(client_max_size=config.max_payload)
    app[CONFIG_KEY] = config
    app[SIO_KEY] = sio
    app[PLUGINS_KEY] = plugins
    sio.attach(app, socketio_path="socket.io")
    bridge = Bridge(sio, config)  # WebSocket upgrades outside /socket.io/
    demo.add_routes(app, bridge.or_page)  # GET / is the client_demo page
    app.router.add_get("/status", bridge.or_page(status_page))
    api.add_routes(app, sio, config)
    # the plugins' setup(app) after openline's routes, before the bridge's catch-all;
    # their allow_request before any session (server/app_hooks.py)
    app_hooks.run_setups(app, found.hooks)
    gate = app_hooks.request_gate(found.hooks)
    if isinstance(sio.eio, Engine):
        sio.eio.allow_request = gate
    bridge.allow_request = gate
    bridge.install(app)  # last: its catch-all route takes what no other route does
    app[DRAIN_KEY] = [sio.drain, bridge.drain]
    app.cleanup_ctx.append(_cluster)
    app.cleanup_ctx.append(_recovery)
    app.on_shutdown.append(_shutdown)
    app.on_response_prepare.append(http_guard.name_server)
    log.info("namespaces: %s", ", ".join(p.path for p in plugins) or "(none)")
    if config.dev_origins:
        log.warning("development origins (--dev-origins): pages opened from a file (Origin "
                    "null) and from localhost on any port may connect; not for production")
    return app


async def _cluster(app: web.Application) -> AsyncIterator[None]:
    """Subscribe to Redis before taking clients; unsubscribe and close at the end."""
    sio = app[SIO_KEY]
    manager = sio.manager
    if isinstance(manager, cluster.RedisManager):
        sio.manager_initialized = True
        await manager.start()
        yield
        await manager.stop()
    else:
        yield


async def _recovery(app: web.Application) -> AsyncIterator[None]:
    """The recovery store's timers (and connections) while the app runs."""
    recovery = app[SIO_KEY].recovery
    if recovery is None:
        yield
        return
    await recovery.store.start()
    yield
    await recovery.store.stop()


async def drain(app: web.Application, deadline: float) -> int:
    """SIGTERM's graceful drain (``openline run``: server/net/listen.py), by loop time
    ``deadline``: Socket.IO sessions saved for recovery and their transports closed so
    clients reconnect, bridge clients closed with 1001. Returns how many were cut."""
    return sum(await asyncio.gather(*(step(deadline) for step in app[DRAIN_KEY])))


async def _shutdown(app: web.Application) -> None:
    await app[SIO_KEY].shutdown()


def _rows(plugins: list[Plugin]) -> str:
    return "\n".join(
        f"<tr><td><code>{html.escape(p.path)}</code></td>"
        f"<td>{html.escape(type(p.namespace).__name__)}</td></tr>"
        for p in plugins
    )


async def status_page(request: web.Request) -> web.Response:
    """Which namespaces are loaded and how to connect."""
    plugins = request.app[PLUGINS_KEY]
    config = request.app[CONFIG_KEY]
    origin = f"{request.scheme}://{request.host}"
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>openline</title>
<style>body{{font:15px/1.5 system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.2rem .6rem;text-align:left}}
pre{{background:#f4f4f4;padding:.8rem}}</style></head><body>
<h1>openline</h1>
<p>A Socket.IO server: one connection, both directions at once.
Transports: {html.escape(", ".join(config.transports))}; serializer: {html.escape(config.serializer)}.</p>
<h2>Namespaces</h2>
<table><tr><th>path</th><th>class</th></tr>
{_rows(plugins)}
</table>
<h2>Connect</h2>
<pre>import {{ io }} from "socket.io-client";
const socket = io("{html.escape(origin)}");          // namespace "/"
socket.on("message", (m) =&gt; console.log(m));
socket.send("hello");</pre>
</body></html>"""
    return web.Response(text=body, content_type="text/html")
