"""Serve one aiohttp app on (host, port) until SIGINT/SIGTERM; shared by ``openline run``
and the standalone engine (``python -m openline.engine``)."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import signal
import socket

from aiohttp import web

from ..config import Config
from ..errors import ConfigError
from .accept import GuardedSite
from .http_guard import Guard, GuardedRunner

log = logging.getLogger("openline.serve")


async def serve_app(app: web.Application, config: Config, banner: str) -> None:
    """Listen, print ``banner`` with the real URL, run until a signal, clean up.

    ``banner`` is formatted with ``url`` (http://host:port); tests and scripts read that
    line to learn the port chosen for ``--port 0``. A host or port that cannot be bound
    raises ConfigError naming the flag, so the CLI prints one line.
    """
    # No SO_KEEPALIVE per connection: one setsockopt less per connect (~1% of the connect
    # path, bench/profile.py --scenario conns); Engine.IO's heartbeat and the bridge's
    # pings find dead peers in seconds where TCP keep-alive starts probing after hours.
    # The guards live in the HTTP protocol (head and body timeouts, connections per
    # address: http_guard.py) and in our accept loop (descriptor headroom: accept.py),
    # each module saying why aiohttp and asyncio need them. aiohttp's keep-alive timer
    # is our idle timeout; it also closes a connection that never sends a byte, which
    # the head timeout reaches first.
    guard = Guard(config)
    runner = GuardedRunner(app, guard, handle_signals=False, access_log=None, tcp_keepalive=False,
                           keepalive_timeout=config.idle_timeout)
    await runner.setup()
    site = GuardedSite(runner, config.host, config.port, guard, config.fd_headroom)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise _listen_error(config, exc) from None
    port = runner.addresses[0][1] if runner.addresses else config.port
    print(banner.format(url=f"http://{config.host}:{port}"), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        log.info("shutting down")
        await runner.cleanup()


def check_bindable(config: Config) -> None:
    """Bind and release (host, port) as the server will, or raise the ConfigError the
    server would. ``--reload`` calls this before it starts watching: a child that cannot
    bind prints its error and exits, and the watcher would wait for a file change for
    ever (``make run`` on a port in use looked hung)."""
    try:
        infos = socket.getaddrinfo(config.host, config.port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
        for family, kind, proto, _, address in infos:
            with socket.socket(family, kind, proto) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio does
                if family == socket.AF_INET6:
                    probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                probe.bind(address)
    except OSError as exc:
        raise _listen_error(config, exc) from None


def _listen_error(config: Config, exc: OSError) -> ConfigError:
    if isinstance(exc, socket.gaierror):
        return ConfigError("--host", f"a resolvable host name or address ({exc.strerror})",
                           config.host)
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    if exc.errno == errno.EADDRNOTAVAIL:
        return ConfigError("--host", f"an address of this machine ({reason})", config.host)
    return ConfigError("--port", f"a port free on {config.host} ({reason})", config.port)
