"""deploy/nginx.conf in front of two ``openline run`` processes sharing one Redis."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.conftest import free_port
from tests.cluster.test_rooms import CHAT, chat_client, without_ts
from tests.conftest import ROOT, UNIT, require_tool, run_node

NGINX_CONF = ROOT / "deploy" / "nginx.conf"


def conf_for_test(upstreams: list[str], listen: int, prefix: Path) -> str:
    """deploy/nginx.conf with the test's upstream ports, listen address and a private
    prefix for nginx's temp files; everything else exactly as shipped."""
    conf = NGINX_CONF.read_text()
    shipped = re.findall(r"^\s*server 127\.0\.0\.1:\d+;$", conf, flags=re.M)
    assert len(shipped) == 2, "deploy/nginx.conf should list two upstream nodes"
    for line, upstream in zip(shipped, upstreams, strict=True):
        conf = conf.replace(line, f"        server {upstream};", 1)
    conf = conf.replace("listen 80;", f"listen 127.0.0.1:{listen};")
    conf = conf.replace("worker_processes auto;", "worker_processes 1;")
    temp = "".join(f"    {name}_temp_path {prefix / name};\n"
                   for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return conf.replace("http {\n", f"http {{\n    access_log off;\n{temp}", 1)


async def wait_for_port(port: int, proc: asyncio.subprocess.Process, what: str) -> None:
    """nginx prints nothing when ready: wait until its port accepts a connection."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10 * UNIT
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if proc.returncode is not None:
                raise AssertionError(f"{what} exited with status {proc.returncode}") from None
            if loop.time() > deadline:
                raise AssertionError(f"{what} is not listening on {port}") from None
            await asyncio.sleep(0.02)
            continue
        writer.close()
        await writer.wait_closed()
        return


@pytest.fixture
async def nginx(tmp_path: Path) -> AsyncIterator[Any]:
    """``url = await nginx([upstream, upstream])``: a real nginx running deploy/nginx.conf."""
    executable = require_tool("nginx")
    procs: list[asyncio.subprocess.Process] = []

    async def start(upstreams: list[str]) -> str:
        port = free_port()
        conf = tmp_path / "nginx.conf"
        conf.write_text(conf_for_test(upstreams, port, tmp_path))
        proc = await asyncio.create_subprocess_exec(
            executable, "-e", "stderr", "-p", str(tmp_path), "-c", str(conf),
            "-g", f"daemon off; pid {tmp_path / 'nginx.pid'};",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        procs.append(proc)
        try:
            await wait_for_port(port, proc, "nginx")
        except AssertionError as exc:
            assert proc.stderr is not None
            raise AssertionError(f"{exc}: {(await proc.stderr.read()).decode()[-2000:]}") from None
        return f"http://127.0.0.1:{port}"

    yield start
    for proc in procs:
        if proc.returncode is None:
            proc.terminate()  # SIGTERM: nginx's fast shutdown
            await asyncio.wait_for(proc.wait(), 10 * UNIT)


async def test_nginx_sticky_upgrade_and_cross_node_chat(redis, node_processes, nginx, py_client):
    """Through nginx: polling, then upgrade, then chat with clients directly on both nodes."""
    node_a = await node_processes("--redis-url", redis.url, "--log-level", "warning")
    node_b = await node_processes("--redis-url", redis.url, "--log-level", "warning")
    proxy = await nginx([node_a.url.removeprefix("http://"), node_b.url.removeprefix("http://")])

    ann, ann_in = await chat_client(py_client, proxy, "ann", "message")
    assert ann.transport() == "websocket"  # polling handshake, then upgraded through nginx
    bob, bob_in = await chat_client(py_client, node_a.url, "bob", "message")
    cat, cat_in = await chat_client(py_client, node_b.url, "cat", "message")

    await ann.call("message", "hi all", namespace=CHAT, timeout=5 * UNIT)
    for inbox in (bob_in, cat_in):
        assert without_ts(await inbox.get("message")) == {
            "room": "lobby", "nickname": "ann", "text": "hi all"}
    for client, name in ((bob, "bob"), (cat, "cat")):
        await client.call("message", f"hi ann from {name}", namespace=CHAT, timeout=5 * UNIT)
        assert without_ts(await ann_in.get("message")) == {
            "room": "lobby", "nickname": name, "text": f"hi ann from {name}"}


@pytest.mark.node
async def test_nginx_npm_client_polling_then_upgrade(redis, node_processes, nginx, py_client):
    """The npm client through nginx upgrades from polling and chats across both nodes."""
    node_a = await node_processes("--redis-url", redis.url, "--log-level", "warning")
    node_b = await node_processes("--redis-url", redis.url, "--log-level", "warning")
    proxy = await nginx([node_a.url.removeprefix("http://"), node_b.url.removeprefix("http://")])
    bob = py_client()
    heard: asyncio.Queue[Any] = asyncio.Queue()

    async def answer(msg: dict[str, Any]) -> None:
        heard.put_nowait(msg)
        await bob.emit("message", {"room": "lobby", "text": "hello js"}, namespace=CHAT)

    bob.on("message", answer, namespace=CHAT)
    await bob.connect(node_a.url, namespaces=[CHAT], auth={"nickname": "bob", "room": "lobby"})
    cat, cat_in = await chat_client(py_client, node_b.url, "cat", "message")

    result = await run_node("cluster_chat.mjs", {
        "url": proxy, "nickname": "js", "room": "lobby", "text": "hello nodes"})
    assert result == {
        "acked": [{"room": "lobby", "nickname": "js", "text": "hello nodes"}],
        "received": {"room": "lobby", "nickname": "bob", "text": "hello js", "ts": "number"},
        "transport": "websocket", "upgraded": True}
    expected = {"room": "lobby", "nickname": "js", "text": "hello nodes"}
    assert without_ts(await asyncio.wait_for(heard.get(), 5 * UNIT)) == expected
    assert without_ts(await cat_in.get("message")) == expected
