"""A registered namespace's emit and send (realtime/namespace_emit.py): stock's calls, one layer shorter."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import socketio
from openline.config import Config
from openline.realtime.server import OpenlineServer


def _recorded(sio: OpenlineServer) -> list[dict[str, Any]]:
    """Replace sio.emit on the instance with one that records its bound arguments."""
    calls: list[dict[str, Any]] = []
    signature = inspect.signature(OpenlineServer.emit)

    async def emit(*args: Any, **kwargs: Any) -> None:
        bound = signature.bind(sio, *args, **kwargs)
        bound.apply_defaults()
        calls.append({k: v for k, v in bound.arguments.items() if k != "self"})

    sio.emit = emit  # type: ignore[method-assign]
    return calls


def test_bound_emit_and_send_pass_what_stocks_would() -> None:
    """ns.emit/ns.send reach server.emit with the same arguments stock's AsyncNamespace gives it."""
    ours, stock = OpenlineServer(Config()), OpenlineServer(Config())
    mine, theirs = socketio.AsyncNamespace("/n"), socketio.AsyncNamespace("/n")
    ours.register_namespace(mine)
    stock.register_namespace(theirs)
    theirs.emit = socketio.AsyncNamespace.emit.__get__(theirs)  # type: ignore[method-assign]
    theirs.send = socketio.AsyncNamespace.send.__get__(theirs)  # type: ignore[method-assign]
    got, want = _recorded(ours), _recorded(stock)
    # stock's send awaits server.send, which awaits server.emit("message", ...)
    stock.send = socketio.AsyncServer.send.__get__(stock)  # type: ignore[method-assign]

    async def run(ns: socketio.AsyncNamespace) -> None:
        await ns.emit("e", {"a": 1}, to="sid1")
        await ns.emit("e", (1, 2), room="r", skip_sid="s", namespace="/other", ignore_queue=True)
        await ns.send("hi", to="sid2")
        await ns.send(b"x", room=["a", "b"], callback=print)

    asyncio.run(run(mine))
    asyncio.run(run(theirs))
    assert got == want and len(got) == 4
    assert got[0] == {"event": "e", "data": {"a": 1}, "to": "sid1", "room": None, "skip_sid": None,
                      "namespace": "/n", "callback": None, "ignore_queue": False}
    assert got[2]["event"] == "message" and got[2]["namespace"] == "/n"


def test_bound_call_passes_what_stocks_would() -> None:
    """ns.call reaches server.call with stock's arguments (its timeout default None included)."""
    calls: dict[str, list[dict[str, Any]]] = {"ours": [], "stock": []}
    signature = inspect.signature(OpenlineServer.call)

    def recorder(sio: OpenlineServer, into: list[dict[str, Any]]) -> None:
        async def call(*args: Any, **kwargs: Any) -> str:
            bound = signature.bind(sio, *args, **kwargs)
            bound.apply_defaults()
            into.append({k: v for k, v in bound.arguments.items() if k != "self"})
            return "answer"

        sio.call = call  # type: ignore[method-assign]

    ours, stock = OpenlineServer(Config()), OpenlineServer(Config())
    mine, theirs = socketio.AsyncNamespace("/n"), socketio.AsyncNamespace("/n")
    ours.register_namespace(mine)
    stock.register_namespace(theirs)
    theirs.call = socketio.AsyncNamespace.call.__get__(theirs)  # type: ignore[method-assign]
    recorder(ours, calls["ours"])
    recorder(stock, calls["stock"])

    async def run(ns: socketio.AsyncNamespace) -> list[Any]:
        return [await ns.call("ping", 1, to="sid1"),
                await ns.call("ping", (1, 2), sid="s", namespace="/o", timeout=3, ignore_queue=True)]

    assert asyncio.run(run(mine)) == asyncio.run(run(theirs)) == ["answer", "answer"]
    assert calls["ours"] == calls["stock"]
    assert calls["ours"][0] == {"event": "ping", "data": 1, "to": "sid1", "sid": None, "namespace": "/n",
                                "timeout": None, "ignore_queue": False}


def test_a_class_with_its_own_emit_or_send_keeps_them() -> None:
    """A namespace class that overrides emit or send is not rebound."""
    class Own(socketio.AsyncNamespace):
        async def emit(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
            return None

        async def send(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
            return None

    sio = OpenlineServer(Config())
    ns = Own("/own")
    sio.register_namespace(ns)
    assert ns.emit.__func__ is Own.emit and ns.send.__func__ is Own.send  # type: ignore[attr-defined]
    assert "emit" not in vars(ns) and "send" not in vars(ns)
