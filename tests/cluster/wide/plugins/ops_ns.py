"""Two namespaces for the cluster-wide tests.

``/ops``: the sockets the operations act on. ``auth.rooms`` are joined at connect,
``auth.nickname`` saved in the session; ``server_on_ping`` is a server-side event handler
(a client can never reach it), recording what it got in ``SEEN``.

``/opsctl``: a test's hands on one node's ``server.cluster``. ``do`` calls one method with
the given arguments and acks the result as JSON (``{"error": ...}`` for EventError); ``seen``
acks the server-side events /ops handled here; ``node`` this node's id, ``nodes`` the ids
it knows alive.
"""

import dataclasses
import time

import socketio
from openline import EventError

SEEN: list = []  # [node that sent it, *args] per server-side "ping" this node handled


class Ops(socketio.AsyncNamespace):
    async def on_connect(self, sid, environ, auth=None):
        auth = auth or {}
        for room in auth.get("rooms", []):
            await self.enter_room(sid, room)
        if auth.get("nickname"):
            await self.save_session(sid, {"nickname": auth["nickname"]})

    async def server_on_ping(self, node, *args):
        SEEN.append([node, *args])
        return {"by": self.server.cluster.node, "args": list(args)}




class OpsControl(socketio.AsyncNamespace):
    async def on_do(self, sid, op):
        cluster = self.server.cluster
        kwargs = dict(op.get("kwargs", {}))
        args = [bytes(a["bytes"]) if isinstance(a, dict) and "bytes" in a else a
                for a in op.get("args", [])]
        started = time.monotonic()
        try:
            result = await getattr(cluster, op["call"])(*args, **kwargs)
        except EventError as exc:
            return {"error": str(exc)}
        shaped = dataclasses.asdict(result) if dataclasses.is_dataclass(result) else result
        return {"result": _jsonable(shaped), "seconds": time.monotonic() - started}

    async def on_seen(self, sid):
        return _jsonable(SEEN)

    async def on_node(self, sid):
        return self.server.cluster.node

    async def on_nodes(self, sid):
        return self.server.cluster.nodes()


def _jsonable(value):
    if isinstance(value, bytes):
        return {"bytes": list(value)}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


namespaces = [Ops("/ops"), OpsControl("/opsctl")]
