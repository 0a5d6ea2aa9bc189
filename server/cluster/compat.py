"""Mixed clusters: openline nodes beside stock python-socketio nodes on one Redis channel.

openline sends many emits per PUBLISH (``batch``, see ``RedisManager._send``); a stock
``AsyncRedisManager`` ignores that method, so what a stock node's clients should get from
an openline node would be lost. Each node therefore publishes through ``PUBLISH_SCRIPT``,
which decides per publish, inside Redis, with the subscriber counts of that moment:

- every openline node subscribes to the channel *and* to its marker channel
  ``<channel>#openline`` in one SUBSCRIBE (so Redis counts both or neither, at any
  moment, for each node), and nothing is ever published on the marker. Whatever else
  of openline's subscribes to the channel must subscribe to the marker with it;
- ``PUBSUB NUMSUB <channel> <marker>``: a channel with more subscribers than the marker
  has one that is not openline: a stock node (stock *emitters*, write-only, do not
  subscribe and understand nothing anyway). Then the script publishes each message on its
  own (python-socketio's format; openline nodes read both), else one ``batch``.

So there is no window: the check is the publish, atomically; a stock node is served from
the first publish after its SUBSCRIBE (a stock server subscribes when its first client
connects), and batching resumes with the first publish after it is gone. ``--cluster-format
batch`` skips the check (openline-only clusters), ``stock`` always sends single messages.

Payloads: each single message is the ``emit`` message openline would put in a batch,
python-socketio's fields plus ``args`` (openline's marker of an exact argument list) and
``offset`` (the recovery log's), both ignored by stock. A stock node folds a one-element
``data`` list into that value, as it does for its own messages, so its clients get the
arguments a stock emit of the same data would give them. Kicks, room changes and acks
(``disconnect``, ``enter_room``, ``leave_room``, ``callback``) go the same way.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("openline.cluster")

MARKER_SUFFIX = "#openline"
BATCHED, SINGLE, LATE = 1, 2, -1  # the script's answers

# KEYS: the channel, its marker. ARGV: the deadline in Redis's clock (s), the format
# (auto, batch or stock), the batch as built by the node, the byte length of each message
# in it ("12,40,7"; empty with --cluster-format batch), the byte length of the batch's
# head before the first message. Too late (a frozen Redis resumed): publishes nothing
# (redis_manager.py). A batch goes out as sent: Redis copies nothing (building it in Lua
# from the messages as arguments doubled redis-server's CPU per message, bench/redis_broadcast.py).
PUBLISH_SCRIPT = """
local now = redis.call('TIME')
if tonumber(now[1]) + tonumber(now[2]) / 1000000 > tonumber(ARGV[1]) then return -1 end
local single = ARGV[2] == 'stock'
if ARGV[2] == 'auto' then
  local counts = redis.call('PUBSUB', 'NUMSUB', KEYS[1], KEYS[2])
  single = counts[2] > counts[4]
end
if not single then
  redis.call('PUBLISH', KEYS[1], ARGV[3])
  return 1
end
local batch, at = ARGV[3], tonumber(ARGV[5]) + 1
for size in string.gmatch(ARGV[4], '%d+') do
  local n = tonumber(size)
  redis.call('PUBLISH', KEYS[1], string.sub(batch, at, at + n - 1))
  at = at + n + 1
end
return 2
"""


def marker(channel: str) -> str:
    """The channel every openline node subscribes to beside ``channel``, never published on."""
    return channel + MARKER_SUFFIX


class FormatWatch:
    """What the last publishes used; logs each change once (a stock node came or went)."""

    def __init__(self, channel: str, mode: str) -> None:
        self.channel = channel
        self.mode = mode
        self.single = mode == "stock"  # the format of the latest publish
        self.single_publishes = 0  # PUBLISH scripts that sent single messages (lifetime)

    def args(self, deadline: str, head: str, chunk: list[str]) -> list[Any]:
        """The keys and arguments of one PUBLISH_SCRIPT call: ``chunk`` as one batch
        (``head`` + the messages joined by commas + ``]}``) and where each message is."""
        sizes = "" if self.mode == "batch" else ",".join(
            [str(len(m) if m.isascii() else len(m.encode())) for m in chunk])
        return [2, self.channel, marker(self.channel), deadline, self.mode,
                f'{head}{",".join(chunk)}]}}', sizes, len(head.encode())]

    def saw(self, reply: Any) -> None:
        if reply not in (BATCHED, SINGLE):
            return
        single = reply == SINGLE
        if single:
            self.single_publishes += 1
        if single == self.single or self.mode != "auto":
            return
        self.single = single
        if single:
            log.info("a subscriber of Redis channel %r is not an openline node (a "
                        "python-socketio server): sending one message per PUBLISH, its "
                        "format, while it listens", self.channel)
        else:
            log.info("Redis channel %r: only openline nodes listen again; batching "
                        "messages", self.channel)
