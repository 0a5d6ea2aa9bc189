"""``Node``: what the ops routes know of the server they report on, one per app."""

from __future__ import annotations

import importlib.metadata
import time
import uuid
from typing import Any

from aiohttp import web

from ..bridge.route import Bridge
from ..cluster.redis_manager import RedisManager
from ..config import Config
from .meter import Meter


class Node:
    """The server, its bridge and config, the meter (None with --no-metrics), readiness."""

    def __init__(self, sio: Any, bridge: Bridge, config: Config, meter: Meter | None) -> None:
        self.version = _version()
        self.sio = sio
        self.bridge = bridge
        self.config = config
        self.meter = meter
        self.started = time.monotonic()
        manager = sio.manager
        # a cluster node's id is its manager's (the host_id in its Redis messages)
        self.id = manager.host_id if isinstance(manager, RedisManager) else uuid.uuid4().hex
        self.redis = manager if isinstance(manager, RedisManager) else None
        self.draining = False  # set when SIGTERM's drain starts: /readyz answers 503

    def uptime(self) -> float:
        return time.monotonic() - self.started

    def not_ready(self) -> list[str]:
        """Why the node should get no new clients now; empty when it is ready."""
        reasons = []
        if self.draining or getattr(self.sio.eio, "draining", False) or self.bridge.draining:
            reasons.append("draining")
        if self.redis is not None and not self.redis.up.is_set():
            reasons.append("redis unreachable")
        return reasons



def _version() -> str:
    """openline's version as installed (``openline.__version__`` lives in the shell, which
    this layer may not import; setup.cfg makes the two the same)."""
    try:
        return importlib.metadata.version("openline")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


NODE_KEY = web.AppKey("ops", Node)  # app[NODE_KEY]: the app's Node
