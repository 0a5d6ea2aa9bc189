"""``create_app(config)``: the aiohttp application with Socket.IO mounted at --path (/socket.io/)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from . import app_hooks, clientjs, demo
from .bridge.route import Bridge
from .cluster import api
from .cluster import redis_manager as cluster
from .cluster.queries import Cluster
from .cluster.requests import Link
from .config import Config
from .engine import Engine
from .net import http_guard
from .ops import NODE_KEY
from .ops import add_routes as add_ops_routes
from .ops.admin import add_admin
from .plugins import load
from .realtime.server import OpenlineServer
from .recovery import store_for

log = logging.getLogger("openline.app")

CONFIG_KEY = web.AppKey("config", Config)
SIO_KEY = web.AppKey("sio", OpenlineServer)
PLUGINS_KEY = web.AppKey("plugins", list)
CLUSTER_KEY = web.AppKey("cluster", Cluster)
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
    # the cluster-wide API plugins reach as self.server.cluster (server/cluster/queries.py)
    sio.cluster = app_cluster = _cluster_api(sio, config)  # type: ignore[attr-defined]

    app = web.Application(client_max_size=config.max_payload)
    app[CONFIG_KEY] = config
    app[SIO_KEY] = sio
    app[PLUGINS_KEY] = plugins
    app[CLUSTER_KEY] = app_cluster
    sio.attach(app, socketio_path=config.path.strip("/"))  # --path, /socket.io/ by default
    if config.serve_client:  # socket.io-client's bundles at <path>socket.io.js and the like
        clientjs.add_routes(app, config)
    bridge = Bridge(sio, config)  # WebSocket upgrades outside --path
    if config.admin:  # hooked in before the metrics: its own reports are not counted there
        add_admin(app, sio, bridge, config, plugins)
    if config.demo:  # GET / is the client_demo page; --no-demo: a 404
        demo.add_routes(app, bridge.or_page, config.path)
    add_ops_routes(app, sio, bridge, config)  # /metrics, /healthz, /readyz, /status
    api.add_routes(app, sio, config)
    # the plugins' setup(app) after openline's routes, before the bridge's catch-all;
    # their allow_request before any session (server/app_hooks.py)
    app_hooks.run_setups(app, found.hooks, config.path)
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


def _cluster_api(sio: OpenlineServer, config: Config) -> Cluster:
    """``server.cluster``; with --redis-url its requests go to every node (requests.py)."""
    manager = sio.manager
    if not isinstance(manager, cluster.RedisManager):
        return Cluster(sio, config)
    api = Cluster(sio, config, node=manager.host_id)
    api.link = Link(manager.redis_url, api.node, api.local.answer, channel=manager.channel,
                    heartbeat=config.cluster_heartbeat,
                    heartbeat_timeout=config.cluster_heartbeat_timeout,
                    publish_timeout=config.redis_publish_timeout,
                    max_requests=config.cluster_max_requests)
    return api


async def _cluster(app: web.Application) -> AsyncIterator[None]:
    """Subscribe to Redis before taking clients; unsubscribe and close at the end."""
    sio = app[SIO_KEY]
    manager = sio.manager
    if isinstance(manager, cluster.RedisManager):
        sio.manager_initialized = True
        await manager.start()
        link = app[CLUSTER_KEY].link
        if link is not None:
            # Redis answered the manager: the link's subscription follows at once; with
            # --redis-start-anyway and Redis away, no second wait (it joins when Redis does)
            await link.start(app[CONFIG_KEY].redis_connect_timeout if manager.up.is_set() else 0)
        yield
        if link is not None:
            await link.stop()
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
    clients reconnect, bridge clients closed with 1001. Returns how many were cut.
    /readyz answers 503 from the start (``app[NODE_KEY].draining``)."""
    app[NODE_KEY].draining = True
    return sum(await asyncio.gather(*(step(deadline) for step in app[DRAIN_KEY])))


async def _shutdown(app: web.Application) -> None:
    await app[SIO_KEY].shutdown()
