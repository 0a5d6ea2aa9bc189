"""Restarts with connection state recovery on one Redis (the Redis store): real
``openline run`` processes, the npm socket.io-client, nginx for the rolling restart.

- a node restarted within the window (SIGTERM, started again on its port): its
  clients come back recovered, with their sid and rooms, and get every event another
  node emitted meanwhile, once, in order (socket.io #5413: Node's adapters lose that);
- the rolling restart of two nodes behind nginx while a third publishes 100 events/s
  to clients on both: every client gets every event, once, in order. The figures
  (sent, received, lost, duplicates, drain and restart times) are printed.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
from typing import Any

import aiohttp
import pytest

from tests.cluster.conftest import NodeProcess, free_port
from tests.cluster.test_nginx import nginx  # noqa: F401, F811  (fixture)
from tests.conftest import UNIT
from tests.recovery.conftest import PLUGINS
from tests.recovery.fleet import Fleet, Publisher

pytestmark = pytest.mark.node

TOKEN = "t0ken"
FAST_RETRY = {"reconnectionDelay": 100, "reconnectionDelayMax": 300, "randomizationFactor": 0}


class Nodes:
    """``openline run`` children with recovery on, the /rec namespace and the API."""

    def __init__(self) -> None:
        self.started: list[NodeProcess] = []

    async def start(self, *args: str) -> NodeProcess:
        node = NodeProcess("--plugins-dir", str(PLUGINS), "--recovery-window", "60",
                           "--api-token", TOKEN, *args)
        return await self._run(node)

    async def _run(self, node: NodeProcess) -> NodeProcess:
        self.started.append(node)
        await node.start()
        return node

    async def restart(self, node: NodeProcess) -> tuple[NodeProcess, dict[str, float]]:
        """SIGTERM ``node``, then start its like (same arguments, same port): the new
        node and the seconds taken: ``exit`` from the signal to the exit, ``shutdown``
        the node's own count of it (its last line, when it says), ``down`` from the exit
        to listening."""
        assert node.proc is not None
        started = time.monotonic()
        node.proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(node.proc.wait(), 15 * UNIT)
        exited = time.monotonic()
        assert node.proc.returncode == 0, node.log[-2000:]
        if node._drain is not None:
            await node._drain  # the rest of its output
        took = {"exit": exited - started}
        for said in re.findall(r"shut down in ([0-9.]+)s", node.log):
            took["shutdown"] = float(said)
        again = await self._run(NodeProcess(*node.args))
        return again, took | {"down": time.monotonic() - exited}

    async def stop(self) -> None:
        for node in self.started:
            await node.stop()


@pytest.fixture
async def nodes() -> Any:
    """A ``Nodes``; every node still running is stopped after the test."""
    started = Nodes()
    yield started
    await started.stop()


async def until(check: Any, what: str, timeout: float = 10) -> None:
    """Wait until ``check()`` is true; fail naming ``what``."""
    deadline = time.monotonic() + timeout * UNIT
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout * UNIT}s")
        await asyncio.sleep(0.02)


async def all_received(fleet: Fleet, names: list[str], count: int, timeout: float = 15) -> dict[str, Any]:
    """The fleet's report once every socket in ``names`` has ``count`` events (or the
    timeout has passed: the assertions then say what is missing)."""
    deadline = time.monotonic() + timeout * UNIT
    while True:
        report = await fleet.report()
        if all(len(report[n]["received"]) >= count for n in names) or time.monotonic() > deadline:
            return report
        await asyncio.sleep(0.1)


async def test_a_node_restarted_within_the_window_gives_its_clients_back_whole(redis, nodes, fleet):
    """SIGTERM, restart on its port: each client is back recovered, same sid and rooms, every event once."""
    port = free_port()
    node = await nodes.start("--redis-url", redis.url, "--port", str(port))
    publisher_node = await nodes.start("--redis-url", redis.url)
    names = ["ws", "poll", "up"]
    for name, transports in (("ws", ["websocket"]), ("poll", ["polling"]), ("up", None)):
        await fleet.open(node.url, [name], namespace="/rec", join="r1", client=FAST_RETRY,
                         **({"transports": transports} if transports else {}))
    first = {name: fleet.lines("connect", name)[0]["sid"] for name in names}
    publisher = Publisher(publisher_node.url, TOKEN, "/rec", "r1", rate=50)
    publisher.start()
    try:
        await until(lambda: publisher.sent >= 20, "20 events before the restart")
        node, took = await nodes.restart(node)
        assert took["exit"] < 10 * UNIT  # the default --drain-timeout
        for name in names:
            line = await fleet.expect("connect", name, where=lambda x, sid=first[name]: x["sid"] == sid)
            assert line["recovered"] is True
        during = publisher.sent
        await until(lambda: publisher.sent >= during + 20, "20 events after the restart")
    finally:
        sent = await publisher.stop()
    report = await all_received(fleet, names, sent)
    for name in names:
        assert report[name]["received"] == list(range(sent)), name
        assert report[name]["sids"] == [first[name]] * 2
        assert report[name]["recovered"] == [False, True]
        assert report[name]["reasons"] == ["transport close"]
        assert await fleet.call(name, "rooms") == ["r1"]


async def node_of(eio: str, nodes: dict[str, NodeProcess]) -> str:
    """Which node (by name) has the Engine.IO session ``eio``: the one whose log names
    it (its open is logged; the output is read as it comes, so the line may be on its way)."""
    def found() -> list[str]:
        return [name for name, node in nodes.items() if eio in node.log]

    await until(lambda: found(), f"a node logging {eio}", timeout=5)
    assert len(found()) == 1, (eio, found())
    return found()[0]


async def probed_node(proxy: str, address: str, nodes: dict[str, NodeProcess]) -> str:
    """Which node nginx sends a new session from ``address`` to: a polling handshake
    through ``proxy``, then its close packet posted to each node directly (answered
    ``ok`` by the one that has the session, 400 by the others)."""
    connector = aiohttp.TCPConnector(local_addr=(address, 0), force_close=True)
    async with aiohttp.ClientSession(connector=connector) as http:
        async with http.get(proxy + "/socket.io/?EIO=4&transport=polling") as reply:
            assert reply.status == 200
            sid = json.loads((await reply.text())[1:])["sid"]
        found = []
        for name, node in nodes.items():
            async with http.post(f"{node.url}/socket.io/?EIO=4&transport=polling&sid={sid}",
                                 data="1") as reply:
                if reply.status == 200:
                    found.append(name)
    assert len(found) == 1, (sid, found)
    return found[0]


async def back_in_rotation(proxy: str, address: str, name: str, nodes: dict[str, NodeProcess],
                           timeout: float = 20) -> float:
    """Wait until nginx sends ``address``'s new sessions to node ``name`` again (it keeps
    away from a node that refused a connection for its fail_timeout, 10 s); seconds taken."""
    started = time.monotonic()
    while await probed_node(proxy, address, nodes) != name:
        if time.monotonic() - started > timeout * UNIT:
            raise AssertionError(f"nginx did not send {address} to {name} within {timeout * UNIT}s")
        await asyncio.sleep(0.2)
    return time.monotonic() - started


async def back_recovered(fleet: Fleet, names: list[str], after: int) -> float:
    """Wait until each socket in ``names`` has connected again, recovered, after line
    ``after`` of the fleet's output; the longest gap from its disconnect, in seconds."""
    gaps = []
    for name in names:
        line = await fleet.expect("connect", name, timeout=30,
                                  where=lambda x: fleet.seen.index(x) > after)
        assert line["recovered"] is True, (name, fleet.lines("disconnect", name))
        gone = [d for d in fleet.lines("disconnect", name) if d["t"] <= line["t"]][-1]
        gaps.append((line["t"] - gone["t"]) / 1000)
    return max(gaps)


CLIENTS = 16


async def test_rolling_restart_behind_nginx_loses_no_event(redis, nodes, fleet, nginx):  # noqa: F811
    """Two nodes behind nginx restarted in turn while a third publishes 100/s: every client gets all, once."""
    a = await nodes.start("--redis-url", redis.url, "--port", str(free_port()))
    b = await nodes.start("--redis-url", redis.url, "--port", str(free_port()))
    publisher_node = await nodes.start("--redis-url", redis.url)
    proxy = await nginx([a.url.removeprefix("http://"), b.url.removeprefix("http://")])
    names = [f"{'ws' if i % 2 else 'up'}{i}" for i in range(CLIENTS)]
    addresses = {name: f"127.0.0.{i + 2}" for i, name in enumerate(names)}  # nginx hashes them
    for name in names:
        await fleet.open(proxy, [name], namespace="/rec", join="r1", client=FAST_RETRY,
                         localAddress=addresses[name],
                         **({"transports": ["websocket"]} if name.startswith("ws") else {}))
    by_name = {"a": a, "b": b}
    first_node = {n: await node_of(fleet.lines("connect", n)[0]["eio"], by_name) for n in names}
    on_a = [n for n in names if first_node[n] == "a"]
    assert 0 < len(on_a) < CLIENTS, first_node  # clients on both nodes
    publisher = Publisher(publisher_node.url, TOKEN, "/rec", "r1", rate=100)
    publisher.start()
    figures: dict[str, float] = {}
    try:
        await until(lambda: publisher.sent >= 100, "100 events before the first restart")
        mark = len(fleet.seen)
        by_name["a"], took = await nodes.restart(a)
        figures |= {f"a {k}": v for k, v in took.items()}
        figures["a's clients back, at most"] = await back_recovered(fleet, on_a, mark)
        figures["a in nginx's rotation"] = await back_in_rotation(
            proxy, addresses[on_a[0]], "a", by_name)
        mark = len(fleet.seen)
        by_name["b"], took = await nodes.restart(b)
        figures |= {f"b {k}": v for k, v in took.items()}
        figures["b's clients back, at most"] = await back_recovered(fleet, names, mark)
        before = publisher.sent
        await until(lambda: publisher.sent >= before + 100, "100 events after the restarts")
    finally:
        sent = await publisher.stop()
    report = await all_received(fleet, names, sent)
    rows = []
    for name in names:
        got = report[name]["received"]
        lost, twice = len(set(range(sent)) - set(got)), len(got) - len(set(got))
        rows.append((name, first_node[name], len(report[name]["sids"]) - 1, len(got), lost, twice))
    print(f"\nrolling restart behind nginx: {CLIENTS} clients, {sent} events sent at 100/s")
    print("client  first-node  recoveries  received  lost  duplicates")
    for row in rows:
        print("{:<7} {:<11} {:<11} {:<9} {:<5} {}".format(*row))
    print(f"total received {sum(r[3] for r in rows)} of {sent * CLIENTS}; lost "
          f"{sum(r[4] for r in rows)}, duplicates {sum(r[5] for r in rows)}")
    print("seconds: " + "; ".join(f"{k} {v:.3f}" for k, v in figures.items()))
    for name in names:
        assert report[name]["received"] == list(range(sent)), name
        assert len(set(report[name]["sids"])) == 1
        assert report[name]["recovered"][0] is False and all(report[name]["recovered"][1:])
        assert set(report[name]["reasons"]) == {"transport close"}
        assert len(report[name]["reasons"]) == (1 if name in on_a else 0) + 1
