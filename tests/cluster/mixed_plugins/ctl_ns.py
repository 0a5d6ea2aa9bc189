"""``/ctl``: a test's hands on a node. The same class serves on openline (--plugins-dir)
and on a stock python-socketio server (tests/cluster/stock_node.py). A ``room`` in the
auth joins that room; ``op`` runs one server-side operation and acks its result; ``ask``
acks its arguments (the target of a ``call``)."""

import socketio


class Control(socketio.AsyncNamespace):
    async def on_connect(self, sid, environ, auth=None):
        if auth and auth.get("room"):
            await self.enter_room(sid, auth["room"])

    async def on_ask(self, sid, *args):
        return ["answer", *args]

    async def on_op(self, sid, op):
        what = op["do"]
        if what == "emit":  # "args": the exact arguments (a tuple); else "data": one value
            data = tuple(op["args"]) if "args" in op else op["data"]
            await self.emit(op["event"], data, to=op.get("to"), room=op.get("room"))
        elif what == "call":
            return await self.call(op["event"], tuple(op["args"]), to=op["sid"], timeout=5)
        elif what == "enter_room":
            await self.enter_room(op["sid"], op["room"])
        elif what == "leave_room":
            await self.leave_room(op["sid"], op["room"])
        elif what == "disconnect":
            await self.disconnect(op["sid"])
        return "done"


namespace = Control("/ctl")
