"""What the Redis store writes: its keys, the append script, offsets, and msgpack records.

Keys (PREFIX ``openline:recovery:``; the namespace in braces, a Redis Cluster hash tag,
so a namespace's two log keys share a slot):

- ``log:{<namespace>}``: the packet log, a Redis Stream. An entry is ``e`` → msgpack
  ``[rooms or nil, excluded, [event, *args]]``, or ``gap`` → ``1`` (events went out
  unlogged before it: see ``redis_store``). Offsets are the entry IDs, ``<ms>-<seq>``;
- ``trim:{<namespace>}``: the newest ID the cap (--recovery-max-packets) pushed out.
  The stream's own ``max-deleted-entry-id`` would be the natural record, but Redis
  (7.0.15, measured) updates it for XDEL only, not for XADD MAXLEN or XTRIM;
- ``session:<pid>:<namespace>``: a dropped socket, msgpack, with PX = the window.

Everything is msgpack with ``use_bin_type``, so bytes come back as bytes and str as
str; tuples come back as lists (as a client sees them). A value msgpack has no type for
goes through orjson first (datetime, UUID, dataclasses: what a JSON client would get).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import msgpack
import orjson

from .store import Saved

PREFIX = "openline:recovery:"
VERSION = 1  # first item of a session record, so a later format can tell them apart
OFFSET = re.compile(r"[0-9]{1,20}-[0-9]{1,20}")

# KEYS[1] the log, KEYS[2] its trim mark; ARGV[1] a deadline in Redis's clock (seconds),
# ARGV[2] the cap, ARGV[3] the length past which it trims back to the cap, then
# field/value pairs, one per entry. Returns the new IDs in order, or false past the
# deadline: a Redis that froze with the call in its socket buffer runs it whenever it
# resumes, after the node has sent those events out unlogged (without this, a client
# that got one live would get it again in a replay). The trim is exact (XTRIM MAXLEN
# without ~) and records the newest ID it removed, so what was lost is known exactly.
APPEND = """
local now = redis.call('TIME')
if tonumber(now[1]) + tonumber(now[2]) / 1000000 > tonumber(ARGV[1]) then return false end
local ids = {}
for i = 4, #ARGV, 2 do
  ids[#ids + 1] = redis.call('XADD', KEYS[1], '*', ARGV[i], ARGV[i + 1])
end
local over = redis.call('XLEN', KEYS[1]) - tonumber(ARGV[2])
if over > 0 and over + tonumber(ARGV[2]) > tonumber(ARGV[3]) then
  local gone = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', over)
  redis.call('XTRIM', KEYS[1], 'MAXLEN', ARGV[2])
  redis.call('SET', KEYS[2], gone[#gone][1])
end
return ids
"""
APPEND_SHA = hashlib.sha1(APPEND.encode()).hexdigest()  # EVALSHA: Redis knows it by this


def log_key(namespace: str) -> str:
    return f"{PREFIX}log:{{{namespace}}}"


def trim_key(namespace: str) -> str:
    return f"{PREFIX}trim:{{{namespace}}}"


def session_key(pid: str, namespace: str) -> str:
    return f"{PREFIX}session:{pid}:{namespace}"


LOG_PATTERN = f"{PREFIX}log:{{*"


def namespace_of(log: bytes | str) -> str:
    """The namespace of a ``log:{...}`` key (SCAN's answer)."""
    text = log.decode() if isinstance(log, bytes) else log
    return text[len(PREFIX) + len("log:{"):-1]


def order(offset: str) -> tuple[int, int]:
    """An offset as (ms, seq); "" is before every entry."""
    if not offset:
        return (-1, -1)
    ms, _, seq = offset.partition("-")
    return (int(ms), int(seq or 0))


def later(a: str, b: str) -> bool:
    return order(a) > order(b)


def _fallback(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value))  # TypeError if orjson has no type for it either


def _pack(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True, default=_fallback)  # type: ignore[no-any-return]


def _unpack(blob: bytes) -> Any:
    return msgpack.unpackb(blob, raw=False, strict_map_key=False)


def _hashable(value: Any) -> Any:
    """A room named by a tuple comes back as a list: a tuple again, so it can be a key."""
    return tuple(_hashable(v) for v in value) if isinstance(value, list) else value


def pack_entry(rooms: frozenset[Any] | None, excluded: frozenset[Any], data: list[Any]) -> bytes:
    """Raises TypeError, ValueError or OverflowError for data msgpack cannot hold."""
    return _pack([None if rooms is None else list(rooms), list(excluded), data])


def unpack_entry(blob: bytes) -> tuple[frozenset[Any] | None, frozenset[Any], list[Any]]:
    rooms, excluded, data = _unpack(blob)
    audience = None if rooms is None else frozenset(_hashable(r) for r in rooms)
    return audience, frozenset(_hashable(s) for s in excluded), list(data)


def pack_saved(saved: Saved) -> bytes:
    return _pack([VERSION, saved.sid, saved.pid, saved.namespace,
                  [[room, head] for room, head in saved.rooms.items()], saved.data,
                  saved.start, saved.disconnected, saved.disconnected_at])


def unpack_saved(blob: bytes) -> Saved:
    """Raises ValueError for a record this version does not read."""
    record = _unpack(blob)
    if not isinstance(record, list) or len(record) != 9 or record[0] != VERSION:
        raise ValueError("not a session record of this openline version")
    _, sid, pid, namespace, rooms, data, start, disconnected, at = record
    return Saved(sid, pid, namespace, {_hashable(room): head for room, head in rooms}, data,
                 start, disconnected, at)
