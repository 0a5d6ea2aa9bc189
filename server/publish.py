"""Emit to openline clients from outside a server: a Python API and ``openline emit``.

Any process that can reach the cluster's Redis can emit; the nodes deliver to their
clients. For asyncio programs::

    from server.publish import Emitter

    async with Emitter("redis://localhost:6379/0") as out:
        nodes = await out.emit("news", {"title": "hi"}, namespace="/chat", room="lobby")

and for plain scripts (a cron job, a Celery task)::

    from server.publish import emit
    emit("redis://localhost:6379/0", "news", {"title": "hi"}, namespace="/chat")

``emit`` returns how many nodes received the message (0: no node is listening; Redis
pub/sub keeps nothing for later). Each positional argument after the event name is one
Socket.IO argument. Unreachable Redis raises ``ClusterError``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from typing import Any

from .cluster import CHANNEL, emit_message, redact, redis_options
from .config import OPTIONS_BY_NAME
from .errors import ClusterError, ConfigError
from .parsers import JsonPacket


class Emitter:
    """A write-only member of the cluster: publishes emits and kicks, receives nothing."""

    def __init__(self, redis_url: str, *, channel: str = CHANNEL) -> None:
        from redis import asyncio as aioredis

        self.redis_url = redis_url
        self.channel = channel
        self.host_id = uuid.uuid4().hex  # never a node's id, so every node handles ours
        self._redis = aioredis.Redis.from_url(redis_url, **redis_options())

    async def emit(self, event: str, *args: Any, namespace: str = "/", room: str | None = None,
                   to: str | None = None, skip_sid: str | None = None) -> int:
        """Emit ``event`` with ``args`` to a namespace, a ``room`` or one sid (``to``)."""
        return await self._publish(emit_message(event, args, namespace, to or room, skip_sid,
                                                host_id=self.host_id))

    async def disconnect(self, sid: str, namespace: str = "/") -> int:
        """Disconnect client ``sid`` from ``namespace`` on whichever node holds it."""
        return await self._publish({"method": "disconnect", "sid": sid, "namespace": namespace,
                                    "host_id": self.host_id})

    async def _publish(self, message: dict[str, Any]) -> int:
        try:
            return int(await self._redis.publish(self.channel, JsonPacket.json.dumps(message)))
        except Exception as exc:  # redis-py errors and OSError subclasses
            raise ClusterError(redact(self.redis_url), exc) from exc

    async def aclose(self) -> None:
        await self._redis.aclose()

    async def __aenter__(self) -> Emitter:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()


def emit(redis_url: str, event: str, *args: Any, namespace: str = "/", room: str | None = None,
         to: str | None = None) -> int:
    """``Emitter.emit`` for code without an event loop; returns the number of nodes."""

    async def once() -> int:
        async with Emitter(redis_url) as out:
            return await out.emit(event, *args, namespace=namespace, room=room, to=to)

    return asyncio.run(once())


# --- ``openline emit`` --------------------------------------------------------


VALUE_OPTIONS = ("--to", "--room", "--namespace", "--redis-url")


def glue_option_values(argv: list[str]) -> list[str]:
    """``emit --to -abc`` as ``--to=-abc``: sids are base64url and may start with "-",
    which argparse would take for an option (``expected one argument``)."""
    if not argv or argv[0] != "emit":
        return argv
    out: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg == "--":
            out += [arg, *args]
            break
        if arg in VALUE_OPTIONS:
            value = next(args, None)
            out.append(arg if value is None else f"{arg}={value}")
        else:
            out.append(arg)
    return out


def add_parser(commands: Any) -> None:
    """Add ``emit`` to the CLI's subcommands."""
    emit_cmd = commands.add_parser(
        "emit", help="publish one event to the cluster through Redis, then exit",
        description="Publish EVENT with JSON arguments to the clients of every node sharing "
                    "the Redis at --redis-url. Quote strings as JSON: '\"text\"'.")
    redis_opt = OPTIONS_BY_NAME["redis_url"]
    emit_cmd.add_argument("--redis-url", metavar="URL",
                          help=f"the cluster's Redis [env {redis_opt.env}]")
    emit_cmd.add_argument("--namespace", default="/", metavar="NS", help="namespace (default /)")
    target = emit_cmd.add_mutually_exclusive_group()
    target.add_argument("--room", metavar="R", help="only clients in this room")
    target.add_argument("--to", metavar="SID", help="only this client")
    emit_cmd.add_argument("event", metavar="EVENT")
    emit_cmd.add_argument("args", metavar="JSON_ARG", nargs="*",
                          help="one Socket.IO argument each, as JSON")


def run_command(args: argparse.Namespace, environ: dict[str, str]) -> str:
    """Check the arguments, publish, and return the line to print.

    Raises ConfigError for bad input (exit status 2) and ClusterError when Redis fails.
    """
    values = []
    for position, text in enumerate(args.args, start=1):
        try:
            values.append(json.loads(text))
        except ValueError:
            raise ConfigError(f"JSON_ARG {position}", "a JSON value (quote strings: '\"text\"')",
                              text) from None
    redis_opt = OPTIONS_BY_NAME["redis_url"]
    raw_url = args.redis_url if args.redis_url is not None else environ.get(redis_opt.env)
    redis_url = redis_opt.convert(raw_url) if raw_url is not None else None
    if redis_url is None:
        raise ConfigError("--redis-url", "a redis://, rediss:// or unix:// URL (or set "
                          f"{redis_opt.env})", None)
    if not args.namespace.startswith("/"):
        raise ConfigError("--namespace", "a namespace starting with /", args.namespace)
    nodes = emit(redis_url, args.event, *values, namespace=args.namespace, room=args.room,
                 to=args.to)
    target = f"room {args.room}" if args.room else f"sid {args.to}" if args.to else "everyone"
    return f"emitted {args.event!r} to {target} in {args.namespace}: {nodes} node(s) listening"
