"""Connection state recovery: what a dropped client needs to come back as itself.

Owns: the record of a disconnected socket and the packet log's interface (store.py),
the in-memory store for one node (memory.py) and the Redis store every node of a
cluster shares (redis_store.py), chosen by ``store_for(config)``. Knows namespaces,
rooms and event arguments as plain data; nothing of sockets, sessions or packets.

May import: the foundation modules (``openline.errors``, ``openline.config``,
``openline.logsafe``) and the libraries. The Socket.IO layer above drives it.
"""

from __future__ import annotations

from ..config import Config
from .memory import MemoryStore
from .redis_store import RedisStore
from .store import RECOVERABLE, Missed, Saved, Store

__all__ = ["RECOVERABLE", "MemoryStore", "Missed", "RedisStore", "Saved", "Store", "store_for"]


def store_for(config: Config) -> Store | None:
    """The store ``--recovery-window`` asks for: None when recovery is off; with
    ``--redis-url``, the Redis store every node shares; else this node's memory."""
    if config.recovery_window is None:
        return None
    if config.redis_url is not None:
        return RedisStore(config.redis_url, config.recovery_window, config.recovery_max_packets,
                          timeout=config.redis_publish_timeout)
    return MemoryStore(config.recovery_window, config.recovery_max_packets)
