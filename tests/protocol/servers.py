"""Servers the protocol tests talk to, one per process:

    python -m tests.protocol.servers {engine|full} {ours|stock} [--ping-interval S ...]

``engine``: a bare Engine.IO echo server at /engine.io/ (ours is ``python -m
openline.engine``'s app); ``full``: openline's whole app at /socket.io/ with the test
plugins. ``stock`` builds the same on python-engineio's AsyncServer, so a hand run with
OPENLINE_PROTOCOL_ENGINE=stock shows which rules stock misses. Prints one line,
``listening on URL``, once the port is open.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from aiohttp import web
from openline.config import Config
from openline.net.listen import serve_app

PLUGINS = Path(__file__).resolve().parent.parent / "plugins"


def stock_engine_app(config: Config) -> web.Application:
    import engineio

    from tests.protocol import stock_adapter

    cors: Any = None if config.cors_origins is None else (
        "*" if config.cors_origins == ("*",) else list(config.cors_origins))
    eio = engineio.AsyncServer(async_mode="aiohttp", ping_interval=config.ping_interval,
                               ping_timeout=config.ping_timeout, cors_allowed_origins=cors,
                               max_http_buffer_size=config.max_payload)
    stock_adapter.engine_options(eio, config)

    async def echo(sid: str, data: Any) -> None:
        await eio.send(sid, data)

    eio.on("message", echo)
    app = web.Application(client_max_size=config.max_payload)
    eio.attach(app, config.path.strip("/"))
    return app


def full_app(config: Config, which: str) -> web.Application:
    from openline import app as app_module
    from openline.realtime import server as realtime

    if which == "stock":
        import engineio

        from tests.protocol import stock_adapter

        realtime.OpenlineServer._engineio_server_class = lambda self: engineio.AsyncServer  # type: ignore[method-assign]
        app = app_module.create_app(config)
        stock_adapter.adapt(app[app_module.SIO_KEY].eio, config)
        return app
    return app_module.create_app(config)


async def serve(kind: str, which: str, config: Config) -> None:
    if kind == "engine":
        if which == "stock":
            app = stock_engine_app(config)
        else:
            from openline.engine.__main__ import create_echo_app

            app = create_echo_app(config)
    else:
        app = full_app(config, which)
    await serve_app(app, config, "listening on {url}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=("engine", "full"))
    parser.add_argument("which", choices=("ours", "stock"))
    parser.add_argument("--port", default="0")
    for flag in ("ping-interval", "ping-timeout", "max-payload", "cors-origins",
                 "connect-timeout", "path", "cookie", "upgrade-timeout"):
        parser.add_argument(f"--{flag}")
    for switch, name in (("no-upgrades", "allow_upgrades"), ("no-http-compression", "http_compression")):
        parser.add_argument(f"--{switch}", dest=name, action="store_const", const=True)
    args = vars(parser.parse_args())
    kind, which = args.pop("kind"), args.pop("which")
    raw = {k: v for k, v in args.items() if v is not None}
    if kind == "full":
        raw["plugins_dirs"] = (PLUGINS,)
    else:
        raw.setdefault("path", "/engine.io/")
    config = Config.from_options(raw)
    asyncio.run(serve(kind, which, config))


if __name__ == "__main__":
    main()
