"""Fixtures for the cluster-wide operations (server/cluster/queries.py): real ``openline
run`` nodes as processes on one real redis-server, each serving ``/ops`` (the sockets
acted on) and ``/opsctl`` (a test's hands on its ``server.cluster``): plugins/ops_ns.py.

Heartbeats are fast here (FAST) so a killed node is dropped within a second; a cluster is
ready when every node knows all the others alive (asked, not slept for)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import socketio

from tests.cluster.conftest import NodeProcess, RedisServer
from tests.conftest import UNIT

PLUGINS = Path(__file__).parent / "plugins"
OPS, CTL = "/ops", "/opsctl"
TIMEOUT = 1.0  # --cluster-timeout of the test nodes
FAST = ("--cluster-timeout", str(TIMEOUT), "--cluster-heartbeat", "0.25",
        "--cluster-heartbeat-timeout", "1")


async def until(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 10) -> Any:
    """Ask ``check`` until it returns something true; fails naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout * UNIT
    while True:
        found = await check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout * UNIT}s (last: {found!r})")
        await asyncio.sleep(0.05)


@dataclass
class Member:
    """One node process, the /opsctl client driving it, and its node id."""

    proc: NodeProcess
    ctl: socketio.AsyncClient
    node: str = ""

    @property
    def url(self) -> str:
        return self.proc.url

    async def do(self, call: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Call ``server.cluster.<call>(*args, **kwargs)`` on this node; its result as JSON."""
        answer = await self.ctl.call("do", {"call": call, "args": list(args), "kwargs": kwargs},
                                     namespace=CTL, timeout=20 * UNIT)
        assert isinstance(answer, dict)
        return answer

    async def result(self, call: str, *args: Any, **kwargs: Any) -> Any:
        answer = await self.do(call, *args, **kwargs)
        assert "result" in answer, answer
        return answer["result"]

    async def ask(self, event: str) -> Any:
        return await self.ctl.call(event, namespace=CTL, timeout=10 * UNIT)


@pytest.fixture
async def cluster(redis: RedisServer) -> AsyncIterator[Callable[..., Awaitable[list[Member]]]]:
    """``members = await cluster(count, *extra_args)``: nodes started together, ready
    when each knows all the others alive."""
    procs: list[NodeProcess] = []
    ctls: list[socketio.AsyncClient] = []

    async def start(count: int, *extra: str) -> list[Member]:
        group = [NodeProcess("--redis-url", redis.url, "--plugins-dir", str(PLUGINS), *FAST, *extra)
                 for _ in range(count)]
        procs.extend(group)
        await asyncio.gather(*(proc.start() for proc in group))
        members = []
        for proc in group:
            ctl = socketio.AsyncClient(reconnection=False)
            ctls.append(ctl)
            await ctl.connect(proc.url, namespaces=[CTL], wait_timeout=5 * UNIT)
            members.append(Member(proc, ctl))
        for member in members:
            member.node = await member.ask("node")
            await until(lambda m=member: _knows_all(m, count), f"node {member.node} sees the others")
        return members

    yield start
    for ctl in ctls:
        if ctl.connected:
            await ctl.disconnect()
    await asyncio.gather(*(proc.stop() for proc in procs))


async def _knows_all(member: Member, count: int) -> bool:
    return len(await member.ask("nodes")) == count


async def ops_client(make: Callable[..., socketio.AsyncClient], url: str, *rooms: str,
                     nickname: str | None = None, query: str = "") -> tuple[socketio.AsyncClient, str]:
    """A python-socketio client on /ops in ``rooms``; (client, its sid). ``make``: py_client."""
    client = make()
    auth: dict[str, Any] = {"rooms": list(rooms)}
    if nickname:
        auth["nickname"] = nickname
    await client.connect(url + query, namespaces=[OPS], auth=auth, wait_timeout=5 * UNIT)
    sid = client.get_sid(OPS)
    assert sid is not None
    return client, sid
