"""Operating a node: Prometheus metrics, health and readiness, the live status.

Owns: the routes ``/metrics`` (metrics.py: a prometheus-client collector over the
server's own counts, read at scrape time), ``/healthz`` and ``/readyz`` (health.py),
``/status`` (status.py: JSON for machines, a page for people); what they read of a
running node (census.py), the per-event counts nothing else keeps (meter.py, installed
only with metrics on), and each app's ``Node`` (node.py, ``app[NODE_KEY]``), whose
``draining`` flag SIGTERM's drain sets so that /readyz answers 503. With --admin, the
Socket.IO Admin UI: its protocol on the /admin namespace (admin.py; the reports it
hooks in, admin_hooks.py; what they carry, admin_report.py; logins, admin_login.py; the
nodes of a cluster, admin_link.py) and its page at /admin/ (admin_ui.py).

May import: ``openline.realtime``, ``openline.bridge``, ``openline.cluster`` (what it
reports on), the layers below them, the foundation modules, prometheus-client. The shell
(``openline.app``) wires it; nothing below imports it.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..bridge.route import Bridge
from ..config import Config
from . import health, metrics, status
from .meter import Meter, install
from .node import NODE_KEY, Node

__all__ = ["NODE_KEY", "Node", "add_routes"]


def add_routes(app: web.Application, sio: Any, bridge: Bridge, config: Config) -> Node:
    """The ops routes on ``app`` (before the bridge's catch-all route: a WebSocket upgrade
    to one of these paths is a bridge client); with metrics on, the meter is hooked into
    ``sio`` first, before any client can arrive."""
    meter = None
    if config.metrics:
        meter = Meter()
        install(sio, meter)
    node = app[NODE_KEY] = Node(sio, bridge, config, meter)
    app.router.add_get("/healthz", bridge.or_page(health.healthz))
    app.router.add_get("/readyz", bridge.or_page(health.readyz))
    if config.status:
        app.router.add_get("/status", bridge.or_page(status.status))
    if meter is not None:
        app.router.add_get("/metrics", bridge.or_page(metrics.handler(metrics.registry_for(node))))
    return node
