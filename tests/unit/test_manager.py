"""FastEmitManager bookkeeping on a real python-socketio AsyncServer (no sockets)."""

from __future__ import annotations

import socketio
from openline.realtime.manager import FastEmitManager

NS = "/bench"


def _manager() -> FastEmitManager:
    manager = FastEmitManager()
    socketio.AsyncServer(client_manager=manager, async_mode="aiohttp")
    return manager


async def _connected(manager: FastEmitManager, eio_sid: str) -> str:
    sid = await manager.pre_connect(eio_sid, NS)
    assert sid is not None
    assert await manager.connect(sid, NS) == sid
    return sid


async def test_pending_connect_is_not_connected_until_connect() -> None:
    """A pre-connected sid is pre-connected but not connected until connect() completes."""
    manager = _manager()
    sid = await manager.pre_connect("e1", NS)
    assert sid is not None
    assert manager.is_pre_connected(sid, NS) is True
    assert manager.is_connected(sid, NS) is False
    await manager.connect(sid, NS)
    assert manager.is_pre_connected(sid, NS) is False
    assert manager.is_connected(sid, NS) is True
    assert manager.pending_connect == {}
    assert manager._memberships == {}  # an idle client costs the reverse index nothing


async def test_second_pre_connect_of_one_session_is_refused() -> None:
    """The same Engine.IO session cannot join a namespace twice: pre_connect returns None."""
    manager = _manager()
    await _connected(manager, "e1")
    assert await manager.pre_connect("e1", NS) is None


async def test_get_rooms_lists_own_room_then_joined_rooms() -> None:
    """get_rooms gives the sid's own room and the rooms it joined, in join order, minus left ones."""
    manager = _manager()
    sid = await _connected(manager, "e1")
    await manager.enter_room(sid, NS, "a")
    await manager.enter_room(sid, NS, "b")
    assert manager.get_rooms(sid, NS) == [sid, "a", "b"]
    await manager.leave_room(sid, NS, "a")
    assert manager.get_rooms(sid, NS) == [sid, "b"]
    assert manager.get_rooms("nobody", NS) == []


async def test_disconnect_leaves_every_room_and_forgets_the_sid() -> None:
    """disconnect removes the sid from all its rooms, callbacks and pending sets; others stay."""
    manager = _manager()
    gone = await _connected(manager, "e1")
    kept = await _connected(manager, "e2")
    for sid in (gone, kept):
        await manager.enter_room(sid, NS, "shared")
    await manager.enter_room(gone, NS, "solo")
    manager._generate_ack_id(gone, lambda *a: None)
    assert manager.pre_disconnect(gone, NS) == "e1"
    assert manager.is_connected(gone, NS) is False
    await manager.disconnect(gone, NS)
    assert manager.sid_from_eio_sid("e1", NS) is None
    assert "solo" not in manager.rooms[NS]
    assert gone not in manager.rooms[NS]
    assert dict(manager.rooms[NS]["shared"]) == {kept: "e2"}
    assert gone not in manager.callbacks
    assert manager.pending_disconnect == {}
    assert manager.get_rooms(kept, NS) == [kept, "shared"]
    assert manager.is_connected(kept, NS) is True


async def test_many_connects_and_disconnects_leave_nothing_behind() -> None:
    """After 2,000 sids connect, share a room and disconnect, no room or index entry remains."""
    manager = _manager()
    sids = [await _connected(manager, f"e{i}") for i in range(2000)]
    for sid in sids:
        await manager.enter_room(sid, NS, "room")
    assert len(list(manager.get_participants(NS, "room"))) == 2000
    for sid in sids:
        manager.pre_disconnect(sid, NS)
    for sid in sids:
        await manager.disconnect(sid, NS)
    assert manager.rooms == {}
    assert manager._memberships == {}
    assert manager.pending_disconnect == {}


async def test_close_room_updates_each_members_rooms() -> None:
    """close_room empties the room and get_rooms of its members no longer lists it."""
    manager = _manager()
    a = await _connected(manager, "e1")
    b = await _connected(manager, "e2")
    for sid in (a, b):
        await manager.enter_room(sid, NS, "r")
    await manager.close_room("r", NS)
    assert "r" not in manager.rooms[NS]
    assert manager.get_rooms(a, NS) == [a]
    assert manager.get_rooms(b, NS) == [b]
