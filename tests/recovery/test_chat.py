"""The built-in /chat namespace with connection state recovery: a member who drops and
comes back keeps nickname and rooms, and the room sees it leave and join once each."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import UNIT

pytestmark = pytest.mark.node


def presence_of(live: Any, nickname: str) -> list[tuple[str, str]]:
    """(action, room) of every presence event bob got about ``nickname``, in order."""
    return [(line["args"][0]["action"], line["args"][0]["room"]) for line in live.seen
            if line.get("name") == "bob" and line["type"] == "event" and line["event"] == "presence"
            and line["args"][0]["nickname"] == nickname]


async def test_a_recovered_chat_member_keeps_rooms_and_the_room_sees_leave_then_join(live, start_node):
    """ann drops and recovers: same sid, both rooms, nickname; bob sees leave and join once per room."""
    node = await start_node(recovery_window=30.0)
    sids = {}
    for name in ("ann", "bob"):
        await live.send("open", name, url=node.url, namespace="/chat", transports=["websocket"],
                        auth={"nickname": name, "room": "lobby"})
        sids[name] = (await live.expect("connect", name))["sid"]
    assert (await live.call("join", "side", name="ann"))["members"] == ["ann"]
    assert (await live.call("join", "side", name="bob"))["members"] == ["ann", "bob"]
    await live.send("drop", "ann")
    await live.expect("disconnect", "ann")
    for _ in range(2):
        await live.expect("event", "bob", where=lambda x: x["event"] == "presence"
                          and x["args"][0] == {"room": x["args"][0]["room"], "nickname": "ann",
                                               "action": "leave"})
    await live.send("connect", "ann")
    back = await live.expect("connect", "ann")
    assert (back["sid"], back["recovered"]) == (sids["ann"], True)
    for _ in range(2):
        await live.expect("event", "bob", where=lambda x: x["event"] == "presence"
                          and x["args"][0]["nickname"] == "ann" and x["args"][0]["action"] == "join")
    assert await live.call("who", "side", name="ann") == {"room": "side", "members": ["ann", "bob"]}
    assert await live.call("who", "lobby", name="ann") == {"room": "lobby", "members": ["ann", "bob"]}
    await asyncio.sleep(0.2 * UNIT)  # the behaviour: nothing more follows (no second join)
    assert sorted(presence_of(live, "ann")[:2]) == [("leave", "lobby"), ("leave", "side")]
    assert sorted(presence_of(live, "ann")[2:]) == [("join", "lobby"), ("join", "side")]
    assert len(presence_of(live, "ann")) == 4
