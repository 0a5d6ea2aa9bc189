"""A stock python-socketio node, as a python-socketio user deploys one: ``AsyncServer``
with ``AsyncRedisManager`` on aiohttp, serving the /ctl test namespace
(mixed_plugins/ctl_ns.py) and nothing of openline. ``python stock_node.py REDIS_URL``
prints ``stock listening on http://127.0.0.1:PORT`` (a free port) and serves until SIGTERM."""

import asyncio
import runpy
import signal
import sys
from pathlib import Path

import socketio
from aiohttp import web


async def main(redis_url: str) -> None:
    control = runpy.run_path(str(Path(__file__).parent / "mixed_plugins" / "ctl_ns.py"))
    sio = socketio.AsyncServer(client_manager=socketio.AsyncRedisManager(redis_url),
                               async_mode="aiohttp")
    sio.register_namespace(control["namespace"])
    app = web.Application()
    sio.attach(app)
    runner = web.AppRunner(app, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    print(f"stock listening on http://127.0.0.1:{port}", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await sio.shutdown()  # disconnects its clients, as python-socketio's own shutdown does
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
