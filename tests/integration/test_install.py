"""What `pip install .` installs: the one package `openline`, which a user's own
`server.py` cannot shadow.

The wheel is built from this checkout and installed, without its dependencies, into a
fresh virtual environment that borrows the dependencies of the test environment
through a .pth line (so no network is needed); the test environment's own editable
openline is not visible there.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from typing import Any

import pytest
import socketio

from tests.cluster.conftest import NodeProcess
from tests.conftest import ROOT, UNIT

SITE_PACKAGES = next(p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir())


def _run(*command: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=180 * UNIT)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """openline's wheel, built from the checkout (no build isolation: nothing downloaded)."""
    out = tmp_path_factory.mktemp("wheel")
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(ROOT))
    (found,) = out.glob("openline-*.whl")
    return found


@pytest.fixture(scope="module")
def fresh_python(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv with the wheel installed; dependencies borrowed from the test venv."""
    venv = tmp_path_factory.mktemp("venv")
    _run(sys.executable, "-m", "venv", "--without-pip", str(venv))
    python = venv / "bin" / "python"
    _run(sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
         "--no-index", str(wheel))
    site = Path(_run(str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))")
                .stdout.strip())
    (site / "borrowed_dependencies.pth").write_text(SITE_PACKAGES + "\n")
    return python


def test_the_wheel_holds_only_the_openline_package(wheel: Path):
    """Every file of the wheel is under openline/ (built-ins in openline/namespaces/) or its dist-info."""
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert tops == {"openline", wheel.name.split("-py")[0] + ".dist-info"}
    for module in ("openline/__init__.py", "openline/cli.py", "openline/engine/session.py",
                   "openline/realtime/server.py", "openline/bridge/sessions.py",
                   "openline/cluster/redis_manager.py", "openline/net/listen.py",
                   "openline/namespaces/chat.py", "openline/namespaces/echo.py"):
        assert module in names, module
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt")))
    assert b"openline = openline.cli:entry" in entry_points


def test_a_fresh_install_imports_openline_and_no_generic_name(fresh_python: Path, tmp_path: Path):
    """After pip install: openline, openline.namespaces, the public names import; server, namespaces don't."""
    code = textwrap.dedent("""
        import importlib.util, openline, openline.namespaces
        from openline import Config, Emitter, EventError, __version__, create_app
        print(openline.__file__)
        print(importlib.util.find_spec("server"), importlib.util.find_spec("namespaces"))
        print(__version__, Emitter.__name__, create_app.__name__, Config().port, EventError.__name__)
    """)
    lines = _run(str(fresh_python), "-c", code, cwd=tmp_path).stdout.splitlines()
    assert lines[0].startswith(str(fresh_python.parent.parent)) and lines[0].endswith("openline/__init__.py")
    assert lines[1:] == ["None None", "0.1.0 Emitter create_app 1740 EventError"]
    version = _run(str(fresh_python.parent / "openline"), "--version", cwd=tmp_path).stdout
    assert version.startswith("openline 0.1.0 (python-socketio ")


async def test_a_users_own_server_py_does_not_break_openline_run(fresh_python: Path, tmp_path: Path):
    """`python -m openline run` from a project with its own server.py and namespaces.py serves its plugin."""
    (tmp_path / "server.py").write_text("raise SystemExit('the user\\'s server.py was imported')\n")
    (tmp_path / "namespaces.py").write_text("raise SystemExit('the user\\'s namespaces.py was imported')\n")
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "scores.py").write_text(textwrap.dedent("""
        import socketio
        from openline import EventError

        class Scores(socketio.AsyncNamespace):
            async def on_add(self, sid, a, b):
                if not isinstance(a, int) or not isinstance(b, int):
                    raise EventError("add takes two integers")
                return a + b

        namespace = Scores("/scores")
    """))
    node = NodeProcess("--plugins-dir", "plugins", python=str(fresh_python), cwd=tmp_path)
    await node.start()
    client = socketio.AsyncClient()
    refused: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    client.on("error", lambda reply: refused.set_result(reply), namespace="/scores")
    try:
        await client.connect(node.url, namespaces=["/scores"], transports=["websocket"],
                             wait_timeout=10 * UNIT)
        assert await client.call("add", (2, 3), namespace="/scores", timeout=10 * UNIT) == 5
        await client.emit("add", ("2", 3), namespace="/scores")
        assert await asyncio.wait_for(refused, 10 * UNIT) == {"message": "add takes two integers"}
    finally:
        await client.disconnect()
        await node.stop()
    assert "imported" not in node.log, node.log
    assert os.path.exists(tmp_path / "server.py")
