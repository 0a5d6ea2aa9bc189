"""Run an app until SIGINT/SIGTERM; the reloading parent for ``--reload``."""

from __future__ import annotations

import asyncio
import errno
import gc
import logging
import os
import shlex
import signal
import socket
import sys
from pathlib import Path

from aiohttp import web

from .app import create_app
from .config import Config
from .errors import ConfigError

log = logging.getLogger("openline.serve")


async def _serve(config: Config) -> None:
    app = create_app(config)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port)
    try:
        await site.start()
    except OSError as exc:  # one line from the CLI, not a traceback
        await runner.cleanup()
        raise _listen_error(config, exc) from None
    port = config.port
    for sock in getattr(site._server, "sockets", None) or ():
        port = sock.getsockname()[1]  # the port the OS chose for --port 0
        break
    # Tests and scripts read this line to learn the port chosen for --port 0.
    print(f"openline listening on http://{config.host}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        log.info("shutting down")
        await runner.cleanup()


def _listen_error(config: Config, exc: OSError) -> ConfigError:
    if isinstance(exc, socket.gaierror):
        return ConfigError("--host", f"a resolvable host name or address ({exc.strerror})",
                           config.host)
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    if exc.errno == errno.EADDRNOTAVAIL:
        return ConfigError("--host", f"an address of this machine ({reason})", config.host)
    return ConfigError("--port", f"a port free on {config.host} ({reason})", config.port)


# Cyclic GC generation thresholds (default 700, 10, 10). A server holds many long-lived
# objects per connection, and with the default every few connects or disconnects pay for
# a collection that rescans them: at 10,000 idle clients `make bench` measured 223 µs per
# disconnect and 2,400 connects/s with the default, 75 µs and 2,800/s with these (and
# 72 µs with GC off), memory per connection unchanged.
GC_THRESHOLDS = (10_000, 20, 20)


def serve(config: Config) -> int:
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        # uvloop (the optional `uvloop` extra) runs the same code faster; never required.
        import uvloop
    except ImportError:
        asyncio.run(_serve(config))
    else:
        log.debug("event loop: uvloop %s", uvloop.__version__)
        uvloop.run(_serve(config))
    return 0


def serve_with_reload(argv: list[str]) -> int:
    """Run ``openline run`` (minus --reload) in a child; restart it when a .py changes."""
    import watchfiles

    child_argv = [a for a in argv if a != "--reload"]
    roots = [Path(__file__).resolve().parent, Path(__file__).resolve().parent.parent / "namespaces"]
    roots += [Path(v) for i, v in enumerate(argv) if i and argv[i - 1] == "--plugins-dir"]
    # The child inherits os.environ: make sure it serves instead of reloading again.
    os.environ["OPENLINE_RELOAD"] = "false"
    command = shlex.join([sys.executable, "-m", "server", *child_argv])
    log.info("watching %s for changes", ", ".join(str(r) for r in roots))
    watchfiles.run_process(
        *[r for r in roots if r.exists()],
        target=command,
        target_type="command",
        watch_filter=watchfiles.PythonFilter(),
        callback=lambda changes: log.info("reloading: %d file(s) changed", len(changes)),
    )
    return 0
