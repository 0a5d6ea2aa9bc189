"""Emitting from outside a server: ``openline emit`` and the Emitter API for workers."""

from __future__ import annotations

import asyncio
import socket
import sys
from typing import Any

import pytest
from openline import Emitter
from openline.emit_command import glue_option_values
from openline.errors import ClusterError

from tests.cluster.test_rooms import CHAT, chat_client
from tests.conftest import ROOT, UNIT


def closed_port() -> int:
    """A loopback port nothing listens on (bound then released), unlike a guessed one."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def openline_emit(*args: str) -> tuple[int, str, str]:
    """Run ``python -m openline emit ARGS``; returns (exit status, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "openline", "emit", *args, cwd=str(ROOT),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 20 * UNIT)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_emit_command_reaches_room_on_both_nodes(redis, two_nodes, py_client):
    """`openline emit --room` delivers the JSON arguments to the room on every node."""
    n1, n2 = two_nodes
    ann, ann_in = await chat_client(py_client, n1.url, "ann", "news")
    bob, bob_in = await chat_client(py_client, n2.url, "bob", "news")
    outsider, outsider_in = await chat_client(py_client, n2.url, "eve", "news", room="elsewhere")
    code, out, err = await openline_emit(
        "--redis-url", redis.url, "--namespace", CHAT, "--room", "lobby",
        "news", '{"title": "héllo"}', "2", "null", '"text"')
    assert (code, out, err) == (
        0, "emitted 'news' to room lobby in /chat: 2 node(s) listening\n", "")
    for inbox in (ann_in, bob_in):
        assert await inbox.get("news") == ({"title": "héllo"}, 2, None, "text")
    # one more to everyone: the outsider's first news is this one, not the room's
    code, out, _ = await openline_emit("--redis-url", redis.url, "--namespace", CHAT, "news", "3")
    assert (code, out) == (0, "emitted 'news' to everyone in /chat: 2 node(s) listening\n")
    assert await outsider_in.get("news") == 3


async def test_emit_command_to_sid(redis, two_nodes, py_client):
    """`openline emit --to SID` reaches that client only, whichever node holds it."""
    n1, n2 = two_nodes
    ann, ann_in = await chat_client(py_client, n1.url, "ann", "direct")
    bob, bob_in = await chat_client(py_client, n2.url, "bob", "direct")
    code, _, err = await openline_emit("--redis-url", redis.url, "--namespace", CHAT,
                                       "--to", bob.get_sid(CHAT), "direct", '["just", "bob"]')
    assert (code, err) == (0, "")
    assert await bob_in.get("direct") == ["just", "bob"]
    code, _, err = await openline_emit("--redis-url", redis.url, "--namespace", CHAT,
                                       "--to", ann.get_sid(CHAT), "direct", '"ann"')
    assert (code, err) == (0, "")
    assert await ann_in.get("direct") == "ann"
    assert bob_in.empty("direct")


@pytest.mark.parametrize("argv,expected", [
    (["emit", "--to", "-abc", "e"], ["emit", "--to=-abc", "e"]),
    (["emit", "--room", "-r", "--namespace", "/n", "e", "--", "-1"],
     ["emit", "--room=-r", "--namespace=/n", "e", "--", "-1"]),
    (["run", "--port", "-1"], ["run", "--port", "-1"])])
def test_option_values_may_start_with_a_dash(argv, expected):
    """A sid or room starting with "-" is taken as the value of --to/--room, not an option."""
    assert glue_option_values(argv) == expected


async def test_emit_command_bad_json_names_argument():
    """A JSON_ARG that is not JSON costs one line naming it, and exit status 2."""
    code, out, err = await openline_emit("--redis-url", "redis://127.0.0.1:1/0", "news",
                                         "1", "hello")
    assert (code, out) == (2, "")
    assert err == ("openline: error: JSON_ARG 2: expected a JSON value "
                   "(quote strings: '\"text\"'), got 'hello'\n")


async def test_emit_command_needs_redis_url(monkeypatch):
    """Without --redis-url or OPENLINE_REDIS_URL, emit says so and exits 2."""
    monkeypatch.delenv("OPENLINE_REDIS_URL", raising=False)
    code, out, err = await openline_emit("news", "1")
    assert (code, out) == (2, "")
    assert err == ("openline: error: --redis-url: expected a redis://, rediss://, unix://, "
                   "valkey://, valkeys:// or redis+sentinel://host:port[,host:port...]/db/service "
                   "URL (or set OPENLINE_REDIS_URL), got None\n")


async def test_emit_command_unreachable_redis_exits_1():
    """An unreachable Redis is one error line naming the URL, exit status 1."""
    port = closed_port()
    code, out, err = await openline_emit("--redis-url", f"redis://:secret@127.0.0.1:{port}/0", "x")
    assert (code, out) == (1, "")
    assert err.startswith(f"openline: error: Redis at redis://:***@127.0.0.1:{port}/0: ConnectionError")
    assert "secret" not in err and err.count("\n") == 1


async def test_emitter_api_emits_and_kicks(redis, two_nodes, py_client):
    """Emitter.emit reaches both nodes and returns the node count; disconnect kicks."""
    n1, n2 = two_nodes
    ann, ann_in = await chat_client(py_client, n1.url, "ann", "news")
    bob = py_client()
    reasons: asyncio.Queue[Any] = asyncio.Queue()
    bob.on("disconnect", lambda *r: reasons.put_nowait(r), namespace=CHAT)
    bob_news: asyncio.Queue[Any] = asyncio.Queue()
    bob.on("news", lambda *a: bob_news.put_nowait(a), namespace=CHAT)
    await bob.connect(n2.url, namespaces=[CHAT], auth={"nickname": "bob", "room": "lobby"})
    async with Emitter(redis.url) as out:
        assert await out.emit("news", namespace=CHAT, room="lobby") == 2
        assert await out.emit("news", b"\x01\x02", [3], namespace=CHAT, room="lobby") == 2
        assert await ann_in.get("news") == ()
        assert await ann_in.get("news") == (b"\x01\x02", [3])
        assert await asyncio.wait_for(bob_news.get(), 5 * UNIT) == ()
        assert await asyncio.wait_for(bob_news.get(), 5 * UNIT) == (b"\x01\x02", [3])
        assert await out.disconnect(bob.get_sid(CHAT), namespace=CHAT) == 2
        assert await asyncio.wait_for(reasons.get(), 5 * UNIT) == ("server disconnect",)


async def test_emitter_raises_cluster_error():
    """Emitter.emit raises ClusterError naming the URL when Redis is unreachable."""
    url = f"redis://127.0.0.1:{closed_port()}/0"
    async with Emitter(url) as out:
        with pytest.raises(ClusterError, match=rf"^Redis at {url}: ConnectionError"):
            await out.emit("x", 1)
