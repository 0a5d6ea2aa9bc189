"""``openline emit``: publish one event to a cluster's clients, then exit; or, with
``--join ROOM`` / ``--leave ROOM`` / ``--disconnect``, make the sockets of ``--room`` (or
``--to`` one sid; neither: the whole ``--namespace``) on every node join or leave ROOM or
disconnect (fire-and-forget, as Node's emitter: the nodes answer nothing).

The command-line face of ``openline.cluster.emitter``; cli.py adds it to its
subcommands and prints what ``run_command`` returns.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from .cluster.emitter import emit, room_op
from .config import OPTIONS_BY_NAME, REDIS_URL_FORMS
from .errors import ConfigError, EventError

VALUE_OPTIONS = ("--to", "--room", "--namespace", "--redis-url", "--join", "--leave")


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
                    "the Redis at --redis-url. Quote strings as JSON: '\"text\"'. With --join, "
                    "--leave or --disconnect (and no EVENT) the sockets of --room, --to or the "
                    "whole --namespace join or leave a room, or are disconnected, on every node.")
    redis_opt = OPTIONS_BY_NAME["redis_url"]
    emit_cmd.add_argument("--redis-url", metavar="URL",
                          help=f"the cluster's Redis [env {redis_opt.env}]")
    emit_cmd.add_argument("--namespace", default="/", metavar="NS", help="namespace (default /)")
    target = emit_cmd.add_mutually_exclusive_group()
    target.add_argument("--room", metavar="R", help="only clients in this room")
    target.add_argument("--to", metavar="SID", help="only this client")
    room_op_group = emit_cmd.add_mutually_exclusive_group()
    room_op_group.add_argument("--join", metavar="ROOM",
                               help="instead of an event: the selected sockets join ROOM")
    room_op_group.add_argument("--leave", metavar="ROOM",
                               help="instead of an event: the selected sockets leave ROOM")
    room_op_group.add_argument("--disconnect", action="store_true",
                               help="instead of an event: disconnect the selected sockets")
    emit_cmd.add_argument("event", metavar="EVENT", nargs="?")
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
        raise ConfigError("--redis-url", f"{REDIS_URL_FORMS} (or set {redis_opt.env})", None)
    if not args.namespace.startswith("/"):
        raise ConfigError("--namespace", "a namespace starting with /", args.namespace)
    operation = _room_operation(args)
    if operation is not None:
        return operation(redis_url)
    if args.event is None:
        raise ConfigError("EVENT", "an event name (or --join, --leave, --disconnect)", None)
    nodes = emit(redis_url, args.event, *values, namespace=args.namespace, room=args.room,
                 to=args.to)
    target = f"room {args.room}" if args.room else f"sid {args.to}" if args.to else "everyone"
    return f"emitted {args.event!r} to {target} in {args.namespace}: {nodes} node(s) listening"


def _room_operation(args: argparse.Namespace) -> Any:
    """``--join``/``--leave``/``--disconnect`` as a function of the Redis URL; None: an emit."""
    ops = [(op, room) for op, room in (("sockets_join", args.join), ("sockets_leave", args.leave),
                                       ("disconnect_sockets", "" if args.disconnect else None))
           if room is not None]
    if not ops:
        return None
    op, room = ops[0]
    if args.event is not None:
        raise ConfigError("EVENT", "no event beside --join, --leave or --disconnect", args.event)
    if op != "disconnect_sockets" and not room:
        raise ConfigError("--join" if op == "sockets_join" else "--leave", "a room name", room)
    selector = args.to or args.room
    target = f"room {selector}" if args.room else f"sid {args.to}" if args.to else "everyone"
    done = {"sockets_join": f"joined {room}", "sockets_leave": f"left {room}",
            "disconnect_sockets": "disconnected"}[op]

    def run(redis_url: str) -> str:
        try:
            nodes = room_op(redis_url, op, [room], namespace=args.namespace, room=selector)
        except EventError as exc:
            raise ConfigError("--room", "a room name", selector) from exc
        return f"{target} in {args.namespace} {done}: {nodes} node(s) listening"

    return run
