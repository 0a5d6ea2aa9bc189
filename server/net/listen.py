"""Serve one aiohttp app on (host, port) until SIGINT/SIGTERM; shared by ``openline run``
and the standalone engine (``python -m openline.engine``).

Graceful shutdown, on the first SIGTERM or SIGINT, all within --drain-timeout: the
listening sockets close first (a load balancer sends new connections elsewhere; those
already open may finish their requests), then the app's ``drain`` step closes every
session so its client reconnects (server/engine/drain.py), then aiohttp's cleanup
(idle connections, handlers still running, then the app's cleanup contexts: Redis
publishes still queued go out there). A second signal exits at once (status 128 +
signal), and a watchdog exits (status 1) should the whole not end within the timeout.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Awaitable, Callable

from aiohttp import web

from ..config import Config
from ..errors import ConfigError
from . import fast_dispatch
from .accept import GuardedSite
from .http_guard import Guard, GuardedRunner

log = logging.getLogger("openline.serve")

# Of --drain-timeout, what is kept for after the drain (aiohttp's cleanup, the Redis
# flush): a quarter, at most CLEANUP_MAX s; aiohttp waits half of that for the handlers
# still running (its own default is 60 s) before it cancels them.
CLEANUP_SHARE = 0.25
CLEANUP_MAX = 1.0
WATCHDOG_SLACK = 0.5  # seconds past --drain-timeout before the watchdog ends the process

Drain = Callable[[float], Awaitable[int]]


async def serve_app(app: web.Application, config: Config, banner: str,
                    drain: Drain | None = None) -> None:
    """Listen, print ``banner`` with the real URL, run until a signal, drain, clean up.

    ``drain(deadline)`` ends the app's sessions by loop time ``deadline`` and returns how
    many it had to cut (see the module docstring).

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
    reserve = min(CLEANUP_MAX, config.drain_timeout * CLEANUP_SHARE)
    runner = GuardedRunner(app, guard, handle_signals=False, access_log=None, tcp_keepalive=False,
                           keepalive_timeout=config.idle_timeout, shutdown_timeout=reserve / 2)
    await runner.setup()
    if runner.server is not None:  # the engine's requests past the router, when safe
        fast_dispatch.install(runner.server, app)
    # before the banner: a supervisor may signal as soon as it reads it
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, _on_signal, stop, sig)
    site = GuardedSite(runner, config.host, config.port, guard, config.fd_headroom)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise _listen_error(config, exc) from None
    port = runner.addresses[0][1] if runner.addresses else config.port
    print(banner.format(url=f"http://{config.host}:{port}"), flush=True)
    try:
        await stop.wait()
    finally:
        await _shut_down(runner, site, config, drain, reserve)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def _on_signal(stop: asyncio.Event, sig: signal.Signals) -> None:
    if not stop.is_set():
        stop.set()
        return
    log.warning("second %s: exiting now", sig.name)
    _exit(128 + sig)


def _exit(status: int) -> None:
    """End the process now, whatever the loop is doing; what was logged is flushed."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(status)


async def _shut_down(runner: web.AppRunner, site: web.BaseSite, config: Config,
                     drain: Drain | None, reserve: float) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    deadline = started + config.drain_timeout
    watchdog = threading.Timer(config.drain_timeout + WATCHDOG_SLACK, _overran, (config,))
    watchdog.daemon = True
    watchdog.start()
    await site.stop()  # first: new connections go elsewhere from now on
    log.info("shutting down: listening sockets closed, draining for at most %gs "
             "(--drain-timeout)", config.drain_timeout)
    cut = 0
    if drain is not None:
        try:  # a guard only: each drain step keeps to its deadline and cuts what is left
            async with asyncio.timeout_at(deadline - reserve / 2):
                cut = await drain(deadline - reserve)
        except TimeoutError:
            log.warning("drain not finished within --drain-timeout %gs", config.drain_timeout)
    drained = loop.time()
    try:
        async with asyncio.timeout_at(deadline):
            await runner.cleanup()
    except TimeoutError:
        log.warning("cleanup not finished within --drain-timeout %gs: exiting anyway",
                    config.drain_timeout)
        _exit(1)
    watchdog.cancel()
    log.info("shut down in %.3fs (drain %.3fs%s)", loop.time() - started, drained - started,
             f", {cut} session(s) cut" if cut else "")


def _overran(config: Config) -> None:
    log.warning("shutdown took longer than --drain-timeout %gs: exiting now", config.drain_timeout)
    _exit(1)


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
