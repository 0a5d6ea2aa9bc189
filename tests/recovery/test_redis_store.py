"""The Redis recovery store (server/recovery/redis_store.py) against a real redis-server:
offsets, sessions taken once and expiring by PX, what ``missed`` gives and refuses, the
cap's record, a restarted node, a frozen Redis and values msgpack cannot hold."""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
import signal
from collections.abc import AsyncIterator
from typing import Any

import pytest
from openline.recovery import RedisStore, Saved
from openline.recovery import redis_codec as codec

from tests.conftest import UNIT

NS = "/rec"


@pytest.fixture
async def stores(redis: Any) -> AsyncIterator[Any]:
    """``store = await stores(**fields)``: started RedisStores on the test's Redis."""
    made: list[RedisStore] = []

    async def make(window: float = 30.0, max_packets: int = 100, timeout: float = 2.0) -> RedisStore:
        store = RedisStore(redis.url, window, max_packets, timeout=timeout * UNIT)
        await store.start()
        assert store.up
        made.append(store)
        return store

    yield make
    for store in made:
        await store.stop()


def saved_at(store: RedisStore, sid: str = "s1", pid: str = "p1", start: str = "",
             rooms: dict[Any, str] | None = None, data: Any = None) -> Saved:
    """A socket dropping now, whose head at connect was ``start``."""
    return Saved(sid, pid, NS, {sid: start, **(rooms or {})}, data, start, store.head(NS))


async def until(condition: Any, what: str, timeout: float = 10) -> None:
    async def wait() -> None:
        while not await condition():
            await asyncio.sleep(0.02)

    try:
        await asyncio.wait_for(wait(), timeout * UNIT)
    except TimeoutError:
        raise AssertionError(f"no {what} within {timeout * UNIT}s") from None


async def test_offsets_are_stream_ids_in_emit_order_and_compare_as_numbers(stores):
    """Offsets are stream IDs appended to the data, in emit order even if concurrent, ordered numerically."""
    store = await stores()
    data = ["news", "hi"]
    first = await store.append(NS, None, frozenset(), data)
    assert codec.OFFSET.fullmatch(first) and data == ["news", "hi", first]
    assert store.head(NS) == first
    many = await asyncio.gather(*(store.append(NS, None, frozenset(), ["n", i]) for i in range(50)))
    assert many == sorted(many, key=codec.order) and len(set(many)) == 50
    assert store.head(NS) == many[-1]
    entries = await store.redis.xrange(codec.log_key(NS))
    assert [e[0].decode() for e in entries] == [first, *many]
    assert store.later("10-0", "9-5") and store.later("5-10", "5-9") and store.later("1-0", "")
    assert not store.later("9-5", "10-0") and not store.later("5-9", "5-9")


async def test_a_saved_socket_is_taken_once_by_one_of_two_nodes(stores):
    """Two nodes asking for one pid at once: exactly one gets it, whole; a third ask finds nothing."""
    one, two = await stores(), await stores()
    await one.append(NS, None, frozenset(), ["news", 1])
    room = ("team", 7)  # a tuple room comes back a tuple (a dict key again)
    saved = saved_at(one, rooms={"r1": one.head(NS), room: ""},
                     data={"n": 7, "raw": b"\x00\xff", 3: [1.5, None, True]})
    await one.save(saved)
    got = await asyncio.gather(one.take("p1", NS), two.take("p1", NS))
    winners = [g for g in got if g is not None]
    assert len(winners) == 1
    back = winners[0]
    assert (back.sid, back.pid, back.namespace, back.start, back.disconnected) == (
        "s1", "p1", NS, "", one.head(NS))
    assert back.rooms == {"s1": "", "r1": one.head(NS), ("team", 7): ""}
    assert back.data == {"n": 7, "raw": b"\x00\xff", 3: [1.5, None, True]}
    assert back.disconnected_at == saved.disconnected_at
    assert await one.take("p1", NS) is None and await two.take("p1", NS) is None
    assert await one.take("p1", "/other") is None


async def test_a_saved_socket_expires_after_the_window(stores):
    """The session key carries PX = the window: gone once it has passed, so take finds nothing."""
    store = await stores(window=0.5)
    await store.save(saved_at(store))
    key = codec.session_key("p1", NS)
    assert 0 < await store.redis.pttl(key) <= 500
    await until(lambda: _gone(store, key), "expiry")
    assert await store.take("p1", NS) is None


async def _gone(store: RedisStore, key: str) -> bool:
    return not await store.redis.exists(key)


async def test_missed_gives_what_went_to_the_socket_after_its_offset_in_order(stores):
    """missed gives namespace, own-sid and joined-room events after the offset, unexcluded, in log order."""
    store = await stores()
    before = await store.append(NS, None, frozenset(), ["old", 0])
    connected = store.head(NS)
    await store.append(NS, frozenset({"r1"}), frozenset(), ["r1 before join", 1])
    joined = store.head(NS)
    got = await store.append(NS, frozenset({"r1"}), frozenset(), ["r1", 2])
    saved = saved_at(store, start=connected, rooms={"r1": joined})
    o3 = await store.append(NS, frozenset({"r1", "r2"}), frozenset(), ["both", b"\x01\x02"])
    await store.append(NS, frozenset({"r2"}), frozenset(), ["r2 only", 3])
    await store.append(NS, frozenset({"r1"}), frozenset({"s1"}), ["skipped", 4])
    o4 = await store.append(NS, frozenset({"s1"}), frozenset(), ["direct", {"a": [1]}])
    when = datetime.datetime(2026, 1, 2, 3, 4, 5)
    o5 = await store.append(NS, None, frozenset(), ["all", when])
    await store.append("/other", None, frozenset(), ["elsewhere"])
    missed = await store.missed(saved, got)
    assert missed is not None
    assert missed.events == [["both", b"\x01\x02", o3], ["direct", {"a": [1]}, o4],
                             ["all", "2026-01-02T03:04:05", o5]]
    assert missed.last == o5
    from_start = await store.missed(saved, None)  # no offset: from its first connect
    assert from_start is not None
    assert [e[0] for e in from_start.events] == ["r1", "both", "direct", "all"]
    assert before not in [e[-1] for e in from_start.events]


async def test_missed_refuses_an_offset_that_is_not_of_the_log(stores):
    """A malformed offset, or one newer than the log's last ID, is refused (None), not replayed from."""
    store = await stores()
    last = await store.append(NS, None, frozenset(), ["news", 1])
    saved = saved_at(store)
    for offset in ("abc", "1-2-3", "", " 1-0", "99999999999999-0"):
        assert await store.missed(saved, offset) is None, offset
    missed = await store.missed(saved, last)
    assert missed is not None and missed.events == [] and missed.last == last


async def test_the_cap_refuses_a_socket_that_lost_events_after_its_drop_only(stores):
    """The cap's trim mark makes missed refuse only once an event from after the drop was pushed out."""
    store = await stores(max_packets=3)
    sent = [await store.append(NS, None, frozenset(), ["e", i]) for i in range(4)]
    assert await store.redis.get(codec.trim_key(NS)) == sent[0].encode()
    saved = saved_at(store)  # dropped after e3: the log is e1 e2 e3
    m1 = await store.append(NS, None, frozenset(), ["m", 1])
    m2 = await store.append(NS, None, frozenset(), ["m", 2])  # the log is e3 m1 m2
    missed = await store.missed(saved, sent[3])
    assert missed is not None and missed.events == [["m", 1, m1], ["m", 2, m2]]
    await store.append(NS, None, frozenset(), ["m", 3])  # pushes out e3, then m1 would go
    assert await store.missed(saved, sent[3]) is not None
    await store.append(NS, None, frozenset(), ["m", 4])  # m1 is gone: it missed it
    assert await store.missed(saved, sent[3]) is None
    assert await store.redis.xlen(codec.log_key(NS)) == 3


async def test_a_quiet_log_trimmed_by_age_still_recovers_a_socket(stores):
    """A log trimmed by age, its last event before the drop included, still lets the socket recover."""
    store = await stores(window=0.3)
    store.margin = 0.0
    last = await store.append(NS, None, frozenset(), ["quiet", 1])
    saved = saved_at(store)
    ms = codec.order(last)[0]

    async def aged() -> bool:
        seconds, micros = await store.redis.time()
        return seconds * 1000 + micros // 1000 > ms + 400

    await until(aged, "the entry aging past the window")
    await store.trim_old()
    assert await store.redis.xlen(codec.log_key(NS)) == 0
    missed = await store.missed(saved, last)
    assert missed is not None and missed.events == [] and missed.last == last


async def test_a_restarted_node_learns_the_heads_and_recovers_what_the_old_one_saved(stores):
    """A new store (a restarted node) learns the logs' heads, takes what the old one saved and replays."""
    old = await stores()
    await old.append(NS, frozenset({"r1"}), frozenset(), ["before", 1])
    saved = saved_at(old, rooms={"r1": ""}, data={"name": "ann"})
    await old.save(saved)
    await old.stop()
    new = await stores()
    assert new.head(NS) == saved.disconnected and new.head("/never") == ""
    other = await stores()
    missed_one = await other.append(NS, frozenset({"r1"}), frozenset(), ["meanwhile", 2])
    back = await new.take("p1", NS)
    assert back is not None and back.data == {"name": "ann"}
    missed = await new.missed(back, saved.disconnected)
    assert missed is not None and missed.events == [["meanwhile", 2, missed_one]]


async def test_a_frozen_redis_sends_events_unlogged_and_leaves_a_gap_for_older_sockets(
        stores, redis, caplog):
    """Frozen Redis: appends give up in time, unlogged, none late, one WARNING; a gap refuses older ones."""
    store = await stores(timeout=0.5)
    await store.append(NS, None, frozenset(), ["before", 0])
    early = saved_at(store, pid="early")
    await store.save(early)
    caplog.set_level(logging.WARNING, logger="openline.recovery")
    os.kill(redis.pid, signal.SIGSTOP)
    try:
        data = ["frozen", 1]
        assert await asyncio.wait_for(store.append(NS, None, frozenset(), data), 2 * UNIT) == ""
        assert data == ["frozen", 1] and not store.up
        assert [await store.append(NS, None, frozenset(), ["frozen", i]) for i in (2, 3)] == ["", ""]
        await store.save(saved_at(store, pid="during"))
        assert (store.unlogged, store.unsaved) == (3, 1)
    finally:
        os.kill(redis.pid, signal.SIGCONT)

    async def back() -> bool:
        return store.up

    await until(back, "the store seeing Redis again")
    after = await store.append(NS, None, frozenset(), ["after", 4])
    entries = await store.redis.xrange(codec.log_key(NS))
    fields = [next(iter(f)) for _, f in entries]
    assert fields == [b"e", b"gap", b"e"]  # nothing frozen was logged late
    assert entries[-1][0].decode() == after
    took = await store.take("early", NS)
    assert took is not None and await store.missed(took, took.disconnected) is None
    late = saved_at(store, pid="late")
    assert await store.missed(late, after) is not None
    lines = [r.getMessage() for r in caplog.records if r.name == "openline.recovery"]
    assert sum("unreachable" in line for line in lines) == 1
    assert sum("is back after" in line for line in lines) == 1
    assert any("3 event(s) went out without an offset, 1 dropped socket(s) were not kept" in line
               for line in lines)


async def test_values_msgpack_cannot_hold_go_unlogged_and_unkept_without_raising(stores, caplog):
    """An unencodable argument goes out unlogged (a gap); unencodable session data leaves a socket unkept."""
    store = await stores()
    caplog.set_level(logging.WARNING, logger="openline.recovery")
    data = ["odd", object()]
    assert await store.append(NS, None, frozenset(), data) == "" and len(data) == 2
    await store.save(saved_at(store, data={"tags": {"a", "b"}}))
    assert (store.unlogged, store.unsaved) == (1, 1)
    assert await store.take("p1", NS) is None
    await store.append(NS, None, frozenset(), ["fine", 1])
    assert [next(iter(f)) for _, f in await store.redis.xrange(codec.log_key(NS))] == [b"gap", b"e"]
    lines = [r.getMessage() for r in caplog.records if r.name == "openline.recovery"]
    assert any("'odd' in /rec goes out without an offset" in line for line in lines)
    assert any("s1 in /rec is not kept" in line for line in lines)
