"""The README's quick starts, run as written against a real server.

The code blocks are taken from README.md by their fence's title: a block opened with
```` ```js title="quickstart.mjs" ```` is the file ``quickstart.mjs``, and the block
titled ``"quickstart.mjs output"`` is exactly what it prints. The one change made to a
block is the port (and nothing else of the address): the README's ``localhost:1740``
(and ``localhost:6379`` for Redis) becomes ``localhost:<the free port the test server
got>``, textually, before the file is written.

The .mjs files are written into a temporary folder inside tests/js/, so Node resolves
``socket.io-client`` and ``socket.io-msgpack-parser`` from tests/js/node_modules, as a
user's ``npm install`` next to the file would.
"""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import socketio

from tests.cluster.conftest import RedisServer
from tests.conftest import JS_DIR, ROOT, UNIT, require, require_tool
from tests.integration.conftest import Inbox

README = ROOT / "README.md"
BLOCK = re.compile(r'^```[a-z]+ title="([^"]+)"\n(.*?)^```$', re.M | re.S)
README_SERVER = "localhost:1740"
README_REDIS = "localhost:6379"


def readme_blocks() -> dict[str, str]:
    """Every titled code block of README.md, by title."""
    blocks: dict[str, str] = {}
    for title, code in BLOCK.findall(README.read_text()):
        assert title not in blocks, f"README.md has two blocks titled {title!r}"
        blocks[title] = code
    return blocks


def as_run_here(title: str, replacements: dict[str, str]) -> str:
    """Block ``title`` with the README's addresses given this test's ports."""
    code = readme_blocks()[title]
    for readme_address, address in replacements.items():
        assert readme_address in code, f"{title} in README.md no longer uses {readme_address}"
        code = code.replace(readme_address, address)
    return code


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


async def run(*command: str, cwd: Path, timeout: float = 20) -> str:
    """Run ``command``; it must exit 0 and write nothing to stderr. Returns its stdout."""
    proc = await asyncio.create_subprocess_exec(
        *command, cwd=str(cwd), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout * UNIT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(f"{' '.join(command)} did not exit within {timeout * UNIT}s") from None
    assert (proc.returncode, err.decode()) == (0, ""), f"{' '.join(command)} failed"
    return out.decode()


async def run_node_file(name: str, code: str) -> str:
    """Write ``code`` as ``name`` in a fresh folder under tests/js/ and run it with node."""
    require_tool("node")
    require((JS_DIR / "node_modules" / "socket.io-client").is_dir(),
            "tests/js/node_modules (run `make test`, which runs npm ci)")
    with tempfile.TemporaryDirectory(prefix=".readme-", dir=JS_DIR) as folder:
        (Path(folder) / name).write_text(code)
        return await run("node", name, cwd=Path(folder))


@pytest.fixture
async def redis() -> AsyncIterator[RedisServer]:
    """A fresh redis-server on a free port (the cluster tests' RedisServer)."""
    server = RedisServer()
    await server.start()
    yield server
    await server.stop()


def test_readme_quick_start_blocks_are_all_there():
    """README.md has each quick start and the output it promises, once each."""
    blocks = readme_blocks()
    for name in ("quickstart.mjs", "quickstart-msgpack.mjs", "emit_news.py"):
        assert name in blocks and f"{name} output" in blocks, name
    assert "plugins/scores.py" in blocks


@pytest.mark.node
async def test_quickstart_mjs_prints_what_readme_shows(start_server):
    """quickstart.mjs, as written, prints the README's output against a plain server."""
    url = await start_server(plugins_dirs=())
    code = as_run_here("quickstart.mjs", {README_SERVER: f"localhost:{port_of(url)}"})
    out = await run_node_file("quickstart.mjs", code)
    assert out == readme_blocks()["quickstart.mjs output"]


@pytest.mark.node
async def test_quickstart_msgpack_mjs_prints_what_readme_shows(start_server):
    """quickstart-msgpack.mjs, as written, prints the README's output (msgpack and JSON peers)."""
    url = await start_server(plugins_dirs=())
    code = as_run_here("quickstart-msgpack.mjs", {README_SERVER: f"localhost:{port_of(url)}"})
    out = await run_node_file("quickstart-msgpack.mjs", code)
    assert out == readme_blocks()["quickstart-msgpack.mjs output"]


async def test_emit_news_py_reaches_a_chat_client_through_redis(redis, start_server, py_client,
                                                                tmp_path):
    """emit_news.py, as written, prints the README's output and a /chat client in lobby gets news."""
    url = await start_server(plugins_dirs=(), redis_url=redis.url)
    client = py_client()
    inbox = Inbox(client, "/chat", "news")
    await client.connect(url, namespaces=["/chat"], auth={"nickname": "ann", "room": "lobby"},
                         wait_timeout=5 * UNIT)
    script = tmp_path / "emit_news.py"
    script.write_text(as_run_here("emit_news.py", {README_REDIS: f"localhost:{redis.port}"}))
    out = await run(sys.executable, str(script), cwd=tmp_path)
    assert out == readme_blocks()["emit_news.py output"]
    assert await inbox.get("news") == {"title": "deploy done"}


async def test_scores_plugin_serves_as_written(start_server, py_client, tmp_path):
    """The README's plugins/scores.py loads from --plugins-dir and behaves as its comments say."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "scores.py").write_text(readme_blocks()["plugins/scores.py"])
    url = await start_server(plugins_dirs=(plugins,))

    intruder = py_client()
    refusal = Inbox(intruder, "/scores", "connect_error")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await intruder.connect(url, namespaces=["/scores"], auth={"token": "guess"},
                               wait_timeout=5 * UNIT)
    assert await refusal.get("connect_error") == {"message": "bad token"}

    fans = []
    for _ in range(2):
        client = py_client()
        inbox = Inbox(client, "/scores", "hello", "goal", "error")
        await client.connect(url, namespaces=["/scores"], auth={"token": "let-me-in"},
                             wait_timeout=5 * UNIT)
        assert await inbox.get("hello") == {"you": client.get_sid("/scores")}
        fans.append((client, inbox))
    (scorer, scorer_in), (fan, fan_in) = fans

    assert await scorer.call("goal", ("home", 17), namespace="/scores", timeout=5 * UNIT) == ("ok", 17)
    assert await fan_in.get("goal") == {"team": "home", "minute": 17}
    await scorer.emit("goal", ("home", "late"), namespace="/scores")
    assert await scorer_in.get("error") == {"message": "minute must be 0-130"}
    assert scorer_in.empty("goal") and fan_in.empty("error")
