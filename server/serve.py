"""Run an app until SIGINT/SIGTERM; the reloading parent for ``--reload``."""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import logging
import os
import shlex
import sys
from pathlib import Path

from .app import create_app, drain
from .config import Config
from .net import redis_url
from .net.listen import check_bindable, serve_app
from .plugins import BUILTINS

log = logging.getLogger("openline.serve")


async def _serve(config: Config) -> None:
    if config.redis_url is not None and not config.redis_start_anyway:
        # before anything else is logged: a Redis that does not answer is one line, exit 2
        await redis_url.check(config.redis_url, redis_url.redis_options(config.redis_publish_timeout),
                              config.redis_connect_timeout)
    app = create_app(config)
    # What start-up made (modules, the app, plugins) lives as long as the process: moved
    # out of the collector's reach, collections scan only what clients bring. +5% connects/s
    # on the connect-rate bench (3 runs each, 5,000 clients); memory unchanged.
    gc.collect()
    gc.freeze()
    await serve_app(app, config, "openline listening on {url}",
                    drain=lambda deadline: drain(app, deadline))


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
        uvloop = None  # type: ignore[assignment]  # (when the uvloop extra is installed)
    # Run outside the except block: inside it, the ImportError became the __context__ of
    # every exception raised while serving, and each logged traceback began with it.
    if uvloop is None:
        asyncio.run(_serve(config))
    else:
        log.debug("event loop: uvloop %s", uvloop.__version__)
        uvloop.run(_serve(config))
    return 0


def serve_with_reload(argv: list[str], config: Config) -> int:
    """Run ``openline run`` (minus --reload) in a child; restart it when a .py changes.
    A host or port the child could not bind is reported here, before watching starts."""
    import watchfiles

    check_bindable(config)
    child_argv = [a for a in argv if a != "--reload"]
    builtins = importlib.util.find_spec(BUILTINS)
    roots = [Path(__file__).resolve().parent]
    if builtins is not None:
        roots += [Path(p) for p in builtins.submodule_search_locations or []]
    roots += [Path(v) for i, v in enumerate(argv) if i and argv[i - 1] == "--plugins-dir"]
    # The child inherits os.environ: make sure it serves instead of reloading again.
    os.environ["OPENLINE_RELOAD"] = "false"
    command = shlex.join([sys.executable, "-m", "openline", *child_argv])
    log.info("watching %s for changes", ", ".join(str(r) for r in roots))
    watchfiles.run_process(
        *[r for r in roots if r.exists()],
        target=command,
        target_type="command",
        watch_filter=watchfiles.PythonFilter(),
        callback=lambda changes: log.info("reloading: %d file(s) changed", len(changes)),
    )
    return 0
