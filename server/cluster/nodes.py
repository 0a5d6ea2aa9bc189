"""Which other nodes are alive: the table the cluster-wide requests wait on.

Each node publishes a ``heartbeat`` on the request channel every --cluster-heartbeat
seconds (Node's ClusterAdapterWithHeartbeat: ``heartbeatInterval`` 5 s), a ``hello`` when
it (re)subscribes — answered at once by every node's heartbeat, so a new node learns the
others within a round trip — and a ``bye`` when it stops. A node heard from (any message)
counts as alive until it has been silent for --cluster-heartbeat-timeout seconds (Node's
``heartbeatTimeout``: 10 s); then it is dropped, and the requests waiting on it stop
waiting (``on_drop``). A node killed with SIGKILL sends no ``bye``: the timeout is what
drops it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger("openline.cluster.nodes")

MAX_NODES = 10_000  # a bound on the table; a cluster this large is beyond pub/sub anyway


class Nodes:
    """Other nodes by id, with the monotonic time each was last heard from."""

    def __init__(self, me: str, timeout: float, on_drop: Callable[[str], None]) -> None:
        self.me = me
        self.timeout = timeout
        self.on_drop = on_drop
        self._seen: dict[str, float] = {}

    def seen(self, node: str) -> bool:
        """Note a message from ``node``; True when it was not known (alive) before."""
        if node == self.me:
            return False
        new = node not in self._seen
        if new and len(self._seen) >= MAX_NODES:
            self.prune()
            if len(self._seen) >= MAX_NODES:
                return False
        self._seen[node] = time.monotonic()
        if new:
            log.info("cluster: node %s joined (%d other node(s))", node, len(self._seen))
        return new

    def gone(self, node: str, why: str) -> None:
        """Drop ``node`` now (its ``bye``, or silent past the timeout)."""
        if self._seen.pop(node, None) is not None:
            log.info("cluster: node %s left (%s; %d other node(s))", node, why, len(self._seen))
            self.on_drop(node)

    def prune(self) -> None:
        """Drop every node silent for longer than the heartbeat timeout."""
        horizon = time.monotonic() - self.timeout
        for node in [n for n, at in self._seen.items() if at < horizon]:
            self.gone(node, f"no heartbeat for {self.timeout:g}s")

    def live(self) -> set[str]:
        """The other nodes alive now."""
        self.prune()
        return set(self._seen)
