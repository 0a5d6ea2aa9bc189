"""``python -m openline.engine``: a bare Engine.IO v4 echo server at /engine.io/ (--path).

Every message a client sends comes back to it, as the reference server's protocol test
suite expects; the protocol tests run against this as well as the full server.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import Any

from aiohttp import web

from ..config import OPTIONS_BY_NAME, Config
from ..errors import ConfigError
from ..net.listen import serve_app
from .server import Engine

log = logging.getLogger("openline.engine")

PATH = "/engine.io/"  # the standalone engine's default --path, as Node's engine.io's
# openline run's options that apply to a bare engine too, with their flags and help
ENGINE_OPTIONS = ("path", "allow_upgrades", "upgrade_timeout", "cookie", "http_compression",
                  "http_compression_threshold")


def create_echo_app(config: Config) -> web.Application:
    """An aiohttp app serving only an echoing Engine at ``config.path``."""
    engine = Engine(config)

    async def echo(sid: str, data: Any) -> None:
        await engine.send(sid, data)

    engine.on("message", echo)
    app = web.Application(client_max_size=config.max_payload)
    engine.attach(app, config.path)

    async def shutdown(_app: web.Application) -> None:
        await engine.shutdown()

    app.on_shutdown.append(shutdown)
    return app


def parse(argv: list[str]) -> Config:
    parser = argparse.ArgumentParser(prog="python -m openline.engine", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", default="0")
    parser.add_argument("--ping-interval", default="25")
    parser.add_argument("--ping-timeout", default="20")
    parser.add_argument("--max-payload", default="1000000")
    parser.add_argument("--cors-origins", default="")
    parser.add_argument("--transports", default="polling,websocket")
    for name in ENGINE_OPTIONS:
        opt = OPTIONS_BY_NAME[name]
        if opt.metavar is None:  # a switch
            parser.add_argument(opt.flag, dest=name, action="store_const", const=True, help=opt.help)
        else:
            parser.add_argument(opt.flag, dest=name, metavar=opt.metavar, help=opt.help,
                                default=PATH if name == "path" else None)
    args = parser.parse_args(argv)
    return Config.from_options({name: value for name, value in vars(args).items()
                                if value is not None and value != ""})


async def serve(config: Config) -> None:
    await serve_app(create_echo_app(config), config, "engine.io listening on {url}" + config.path)


def main(argv: list[str] | None = None) -> int:
    try:
        config = parse(sys.argv[1:] if argv is None else argv)
    except ConfigError as exc:
        print(f"python -m openline.engine: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(serve(config))
    except ConfigError as exc:  # the host or port cannot be bound
        print(f"python -m openline.engine: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
