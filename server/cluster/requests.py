"""Request/response between nodes over Redis, as Node's @socket.io/redis-adapter does.

Channels, apart from the ``socketio`` broadcast channel (stock python-socketio nodes
subscribe to that one exactly, so they never see these):

- ``<channel>#request``: every node subscribes; a request goes to all of them at once;
- ``<channel>#response#<node id>``: only that node subscribes; the answers to its requests.

A message is one JSON object::

    {"v": 1, "type": "fetch_sockets", "node": "<sender>", "id": "<request id>" or null,
     "namespace": "/chat", "data": {...}}
    {"v": 1, "type": "response", "node": "<responder>", "id": "<request id>", "data": ...}

``id`` null asks for no answer (``Emitter``'s fire-and-forget operations, a server-side
emit without acks). The types: ``hello``, ``heartbeat``, ``bye`` (liveness: nodes.py) and
the operations in local_ops.py (OPERATIONS). A caller gathers answers until every node it
knows alive has answered or the timeout passes; the nodes that did not are reported,
never waited for longer. A malformed message is ignored with one rate-limited WARNING.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..logsafe import Throttle, preview
from ..net.redis_url import client, redis_options
from ..realtime.parsers import JsonPacket
from .health import BACKOFF_FIRST, BACKOFF_MAX, _jitter
from .messages import CHANNEL
from .nodes import Nodes

log = logging.getLogger("openline.cluster.requests")

VERSION = 1
LIVENESS = ("hello", "heartbeat", "bye")
MAX_PENDING_REQUESTS = 10_000  # --cluster-max-requests' default: requests waiting for answers
# (and, apart, requests from other nodes being answered) at once


def request_channel(channel: str = CHANNEL) -> str:
    return f"{channel}#request"


def response_channel(node: str, channel: str = CHANNEL) -> str:
    return f"{channel}#response#{node}"


def request_message(kind: str, node: str, namespace: str, data: Any,
                    request_id: str | None = None) -> bytes:
    """One request, encoded; ``request_id`` None: no answer wanted."""
    return JsonPacket.json.dumps({"v": VERSION, "type": kind, "node": node, "id": request_id,
                                  "namespace": namespace, "data": data}).encode()


def parse(raw: bytes) -> dict[str, Any] | str:
    """The message as a dict, or why it is malformed (a string)."""
    try:
        message = JsonPacket.json.loads(raw)
    except ValueError:
        return "not JSON"
    if not isinstance(message, dict):
        return "not a JSON object"
    if message.get("v") != VERSION:
        return f"unknown version {message.get('v')!r}"
    for key in ("type", "node"):
        if not isinstance(message.get(key), str) or not message[key]:
            return f"no {key}"
    if message.get("id") is not None and not isinstance(message["id"], str):
        return "id is not a string"
    if message["type"] not in LIVENESS and message["type"] != "response" \
            and not isinstance(message.get("namespace"), str):
        return "no namespace"
    return message


@dataclass
class Gather:
    """One request waiting for answers: from ``expected`` nodes, by the deadline."""

    expected: set[str]
    answers: dict[str, Any] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)  # dropped meanwhile: missing, not waited for
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def check(self) -> None:
        if self.expected - self.gone <= set(self.answers):
            self.done.set()


Handler = Callable[[str, str, Any, str], Awaitable[Any]]  # (kind, namespace, data, sender)


class Link:
    """This node's end of the request/response channels (its own Redis connections).

    ``handler(kind, namespace, data, sender)`` answers another node's request (local_ops.py).
    """

    def __init__(self, redis_url: str, node: str, handler: Handler, *, channel: str = CHANNEL,
                 heartbeat: float = 5.0, heartbeat_timeout: float = 10.0,
                 publish_timeout: float = 2.0, max_requests: int = MAX_PENDING_REQUESTS) -> None:
        self.redis_url = redis_url
        self.node = node
        self.handler = handler
        self.channel = channel
        self.heartbeat = heartbeat
        self.publish_timeout = publish_timeout
        self.max_requests = max_requests
        self.nodes = Nodes(node, heartbeat_timeout, self._dropped)
        self._requests = request_channel(channel).encode()
        self._pending: dict[str, Gather] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._answering: set[asyncio.Task[Any]] = set()
        self._redis: Any = None
        self._pubsub: Any = None
        self._subscribed = asyncio.Event()
        self._stopping = False
        self._bad = Throttle(log, logging.WARNING)
        self._failed = Throttle(log, logging.WARNING)

    # --- lifecycle -------------------------------------------------------------------

    async def start(self, wait: float) -> None:
        """Subscribe and say hello; waits up to ``wait`` seconds for the subscription."""
        self._redis = client(self.redis_url, redis_options(self.publish_timeout))
        self._pubsub = self._redis.pubsub()
        self._tasks = [asyncio.ensure_future(self._listen()),
                       asyncio.ensure_future(self._beat())]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), wait)

    async def stop(self) -> None:
        """Say bye (the others drop this node at once), stop listening, close."""
        with contextlib.suppress(Exception):
            await self._publish(request_channel(self.channel),
                                request_message("bye", self.node, "/", None))
        self._stopping = True
        tasks = [*self._tasks, *self._answering]
        for task in tasks:
            task.cancel()
        if tasks:  # bounded: redis-py may swallow a cancellation mid-command
            await asyncio.wait(tasks, timeout=self.publish_timeout + 1)
        for gather in self._pending.values():
            gather.done.set()
        for closing in (self._pubsub, self._redis):
            if closing is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(closing.aclose(), self.publish_timeout)

    # --- asking ------------------------------------------------------------------------

    async def ask(self, kind: str, namespace: str, data: Any,
                  timeout: float) -> tuple[dict[str, Any], list[str]]:
        """Send a request to every node; returns (answers by node, nodes that did not
        answer within ``timeout``). With no other node alive, answers at once."""
        expected = self.nodes.live()
        if not expected:
            return {}, []
        if not self._subscribed.is_set():  # our subscription is down: no answer can reach us
            return {}, sorted(expected)
        if len(self._pending) >= self.max_requests:
            self._failed.note("cluster: %d requests waiting already; %s not sent",
                              len(self._pending), kind)
            return {}, sorted(expected)
        request_id = uuid.uuid4().hex
        gather = self._pending[request_id] = Gather(expected)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout  # the publish counts against the timeout too
        try:
            await self._publish(request_channel(self.channel),
                                request_message(kind, self.node, namespace, data, request_id))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(gather.done.wait(), max(0.0, deadline - loop.time()))
        except Exception as exc:  # redis-py's errors, OSError: Redis is away
            self._failed.note("cluster: %s request not sent: %s", kind, exc)
        finally:
            self._pending.pop(request_id, None)
        answers = dict(gather.answers)
        return answers, sorted(gather.expected - set(answers))

    async def tell(self, kind: str, namespace: str, data: Any) -> int:
        """A request without answers; returns how many nodes received it."""
        try:
            return await self._publish(request_channel(self.channel),
                                       request_message(kind, self.node, namespace, data))
        except Exception as exc:
            if kind in LIVENESS:  # Redis away: the broadcast side logs the outage once
                log.debug("cluster: %s not sent: %s", kind, exc)
            else:
                self._failed.note("cluster: %s request not sent: %s", kind, exc)
            return 0

    async def _publish(self, channel: str, payload: bytes) -> int:
        async with asyncio.timeout(self.publish_timeout):
            return int(await self._redis.publish(channel, payload))

    def _dropped(self, node: str) -> None:
        """A node left: the requests waiting on it stop waiting (it is reported missing)."""
        for gather in self._pending.values():
            if node in gather.expected:
                gather.gone.add(node)
                gather.check()

    # --- listening -----------------------------------------------------------------------

    async def _beat(self) -> None:
        while not self._stopping:
            await self._subscribed.wait()
            await asyncio.sleep(self.heartbeat)
            self.nodes.prune()
            await self.tell("heartbeat", "/", None)

    async def _listen(self) -> None:
        channels = (request_channel(self.channel), response_channel(self.node, self.channel))
        delay = BACKOFF_FIRST
        while not self._stopping:
            try:
                await self._pubsub.subscribe(*channels)
                async for message in self._pubsub.listen():
                    if message["type"] == "subscribe":
                        if message["channel"] == self._requests:
                            self._subscribed.set()
                            delay = BACKOFF_FIRST
                            await self.tell("hello", "/", None)
                    elif message["type"] == "message":
                        self._take(message["channel"] == self._requests, message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: the broadcast side logs the outage
                log.debug("cluster requests: subscription failed: %s", exc)
                self._subscribed.clear()
                with contextlib.suppress(Exception):
                    await self._pubsub.aclose()
                await asyncio.sleep(_jitter(delay))
                delay = min(delay * 2, BACKOFF_MAX)

    def _take(self, is_request: bool, raw: bytes) -> None:
        message = parse(raw)
        if isinstance(message, str):
            self._bad.note("cluster: ignoring a malformed message (%s): %s", message,
                           preview(raw.decode(errors="replace"), 120))
            return
        sender, kind = message["node"], message["type"]
        if sender == self.node:
            return  # our own request, echoed by Redis
        if kind == "bye":
            self.nodes.gone(sender, "it stopped")
            return
        if kind in LIVENESS:  # only nodes send these (an Emitter is no node)
            if self.nodes.seen(sender) and kind == "hello":
                self._spawn(self.tell("heartbeat", "/", None))  # so it learns of us
            return
        if not is_request:
            gather = self._pending.get(message.get("id") or "")
            if kind == "response" and gather is not None:
                self.nodes.seen(sender)
                gather.answers[sender] = message.get("data")
                gather.check()
            return
        if len(self._answering) >= self.max_requests:
            self._failed.note("cluster: %d requests being answered already; a %s request "
                              "from %s is dropped", len(self._answering), kind, sender)
            return
        self._spawn(self._answer(message))

    def _spawn(self, step: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(step)
        self._answering.add(task)
        task.add_done_callback(self._answering.discard)

    async def _answer(self, message: dict[str, Any]) -> None:
        try:
            answer = await self.handler(message["type"], message["namespace"], message.get("data"),
                                        message["node"])
        except (TypeError, ValueError, KeyError) as exc:  # a peer's malformed data
            self._bad.note("cluster: ignoring a malformed %s request from %s: %s",
                           message["type"], message["node"], exc)
            return
        except Exception:
            log.exception("cluster: answering a %s request failed", message["type"])
            return
        if message.get("id") is None:
            return
        payload = JsonPacket.json.dumps({"v": VERSION, "type": "response", "node": self.node,
                                         "id": message["id"], "data": answer}).encode()
        try:
            await self._publish(response_channel(message["node"], self.channel), payload)
        except Exception as exc:
            self._failed.note("cluster: answer to %s not sent: %s", message["node"], exc)
