"""Plugin discovery: built-ins, --no-builtins, plugin dirs, entry points, every refusal."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import socketio
from openline.app import PLUGINS_KEY, create_app
from openline.config import Config
from openline.errors import PluginError
from openline.plugins import ENTRY_POINT_GROUP, discover

from tests.conftest import ROOT, TEST_PLUGINS, UNIT

BUILTINS = ROOT / "namespaces"
NS_CLASS = "import socketio\nclass N(socketio.AsyncNamespace):\n    pass\n"


def plugin(directory: Path, name: str, body: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(body))
    return path


def paths(config: Config) -> dict[str, str]:
    return {p.path: p.origin for p in discover(config)}


def test_builtins_are_echo_and_chat():
    """By default the namespaces package gives / (echo.py) and /chat (chat.py)."""
    assert paths(Config()) == {"/": str(BUILTINS / "echo.py"), "/chat": str(BUILTINS / "chat.py")}


def test_no_builtins_loads_nothing_by_itself():
    """--no-builtins with no plugin dirs loads no namespace."""
    assert paths(Config(builtins=False)) == {}


def test_plugins_dir_adds_its_modules(tmp_path: Path):
    """Every *.py of a plugin dir is loaded (namespace or namespaces); _private.py is not."""
    plugin(tmp_path, "one.py", NS_CLASS + "namespace = N('/one')\n")
    plugin(tmp_path, "two.py", NS_CLASS + "namespaces = [N('/two'), N('/three')]\n")
    plugin(tmp_path, "_helper.py", "raise RuntimeError('never executed')\n")
    (tmp_path / "notes.txt").write_text("not a plugin")
    found = paths(Config(builtins=False, plugins_dirs=(tmp_path, TEST_PLUGINS)))
    assert found == {"/one": str(tmp_path / "one.py"), "/two": str(tmp_path / "two.py"),
                     "/three": str(tmp_path / "two.py"), "/test": str(TEST_PLUGINS / "probe.py"),
                     "/shaped": str(TEST_PLUGINS / "shaped.py")}
    assert set(paths(Config(plugins_dirs=(tmp_path,)))) == {"/", "/chat", "/one", "/two", "/three"}


def test_two_plugins_claiming_one_namespace_names_both_files(tmp_path: Path):
    """Two modules claiming one path: PluginError, one line naming both files."""
    a = plugin(tmp_path, "a.py", NS_CLASS + "namespace = N('/same')\n")
    b = plugin(tmp_path, "b.py", NS_CLASS + "namespace = N('/same')\n")
    with pytest.raises(PluginError) as info:
        discover(Config(builtins=False, plugins_dirs=(tmp_path,)))
    assert str(info.value) == f"plugin {a} and {b}: both claim namespace '/same'"


def test_plugin_claiming_a_builtin_path_names_the_builtin(tmp_path: Path):
    """A plugin claiming "/" clashes with the built-in echo and both files are named."""
    mine = plugin(tmp_path, "root.py", NS_CLASS + "namespace = N('/')\n")
    with pytest.raises(PluginError) as info:
        discover(Config(plugins_dirs=(tmp_path,)))
    assert str(info.value) == f"plugin {BUILTINS / 'echo.py'} and {mine}: both claim namespace '/'"
    assert paths(Config(builtins=False, plugins_dirs=(tmp_path,))) == {"/": str(mine)}


@pytest.mark.parametrize("body,reason", [
    ("import no_such_module_anywhere\n",
     "failed to import: ModuleNotFoundError: No module named 'no_such_module_anywhere'"),
    ("def broken(:\n", "failed to import: SyntaxError: "),
    ("raise RuntimeError('boom at import')\n", "failed to import: RuntimeError: boom at import"),
    ("x = 1\n", "defines none of 'namespace', 'namespaces', 'setup', 'allow_request'"),
    ("setup = 'not a function'\n", "'setup' must be a function, not 'not a function'"),
    (NS_CLASS + "namespace = N('/rooms/<int:id>')\n", "<int:id> is not <name> or <path:name>"),
    (NS_CLASS + "namespace = N('/a/<id>/<id>')\n", "<id> is not <name> or <path:name> with a new"),
    (NS_CLASS + "namespace = N('/a/<id')\n", "namespace pattern '/a/<id': unmatched '<' or '>'"),
    (NS_CLASS + "namespace = N('/a')\nnamespace.middlewares = [1]\n", "'middlewares' of"),
    ("namespace = 5\n", "5 is not an instance of socketio.AsyncNamespace"),
    ("namespaces = []\n", "'namespaces' must be a non-empty list of socketio.AsyncNamespace"),
    ("namespaces = 'x'\n", "'namespaces' must be a non-empty list of socketio.AsyncNamespace"),
    (NS_CLASS + "namespaces = [N('/ok'), object]\n", "<class 'object'> is not an instance of"),
    (NS_CLASS + "namespace = N('chat')\n", "namespace path 'chat' must start with '/'"),
    ("import socketio\nnamespace = socketio.Namespace('/sync')\n", "is not an instance of"),
])
def test_unusable_plugin_refused_with_file_and_reason(tmp_path: Path, body: str, reason: str):
    """An unusable module refuses start-up with one line naming the file and the reason."""
    path = plugin(tmp_path, "bad.py", body)
    with pytest.raises(PluginError) as info:
        discover(Config(builtins=False, plugins_dirs=(tmp_path,)))
    text = str(info.value)
    assert text.startswith(f"plugin {path}: ") and reason in text, text
    assert "\n" not in text


def test_cli_refuses_to_start_with_a_bad_plugin(tmp_path: Path):
    """`openline run` with a broken plugin prints one line naming the file and exits 2."""
    path = plugin(tmp_path, "broken.py", "raise ValueError('bad config in plugin')\n")
    result = subprocess.run(
        [sys.executable, "-m", "openline", "run", "--port", "0", "--plugins-dir", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, timeout=30 * UNIT)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"openline: error: plugin {path}: failed to import: ValueError: bad config in plugin"]


def test_discovery_happens_in_create_app_with_fresh_modules(tmp_path: Path):
    """Plugins run when create_app runs (not at import), afresh each time, not in sys.modules."""
    marker = tmp_path / "runs.txt"
    plugin(tmp_path, "counted.py", f"""
        import socketio
        with open({str(marker)!r}, "a") as f:
            f.write("run\\n")
        class Counted(socketio.AsyncNamespace):
            pass
        namespace = Counted("/counted")
    """)
    config = Config(builtins=False, plugins_dirs=(tmp_path,))
    assert not marker.exists()
    first, second = create_app(config), create_app(config)
    assert marker.read_text() == "run\nrun\n"
    ns1, ns2 = (app[PLUGINS_KEY][0].namespace for app in (first, second))
    assert ns1 is not ns2 and type(ns1) is not type(ns2)
    assert not [m for m in sys.modules if m.endswith("counted")]


def test_importing_openline_discovers_nothing():
    """Importing the server modules executes no namespace module."""
    code = ("import sys, openline.app, openline.cli, openline.plugins, openline.realtime.server;"
            "print(sorted(m for m in sys.modules if m == 'namespaces' or m.startswith('namespaces.')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                            timeout=30 * UNIT)
    assert (result.returncode, result.stdout) == (0, "[]\n"), result.stderr


@pytest.fixture
def distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``make(module_source, entry_value)``: a fake installed distribution with one
    ``openline.namespaces`` entry point, found by importlib.metadata through sys.path."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))

    def make(source: str | None, value: str = "openline_fake_plugin") -> Path:
        info = site / "openline_fake-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: openline-fake\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nfake = {value}\n")
        module = site / "openline_fake_plugin.py"
        if source is not None:
            module.write_text(textwrap.dedent(source))
        return module

    yield make
    for name in list(sys.modules):
        if name.startswith("openline_fake_plugin"):
            del sys.modules[name]


def test_entry_point_plugin_is_discovered(distribution):
    """An installed distribution's openline.namespaces entry point adds its namespace."""
    distribution(NS_CLASS + "namespace = N('/from-entry-point')\n")
    found = discover(Config())
    by_path = {p.path: p for p in found}
    assert set(by_path) == {"/", "/chat", "/from-entry-point"}
    assert by_path["/from-entry-point"].origin == "entry point fake = openline_fake_plugin"
    assert isinstance(by_path["/from-entry-point"].namespace, socketio.AsyncNamespace)


def test_entry_point_with_module_attr_form(distribution):
    """An entry point written as module:attr loads that module."""
    distribution(NS_CLASS + "namespaces = [N('/ep')]\n", value="openline_fake_plugin:namespaces")
    assert "/ep" in {p.path for p in discover(Config(builtins=False))}


def test_entry_point_to_missing_module_is_refused(distribution):
    """An entry point whose module does not exist refuses start-up, naming the entry point."""
    distribution(None, value="openline_fake_plugin_missing")
    with pytest.raises(PluginError) as info:
        discover(Config(builtins=False))
    assert str(info.value).startswith("plugin entry point fake = openline_fake_plugin_missing: ")


def test_entry_point_clashing_with_builtin(distribution):
    """An entry point claiming /chat clashes with the built-in, both named."""
    distribution(NS_CLASS + "namespace = N('/chat')\n")
    with pytest.raises(PluginError) as info:
        discover(Config())
    assert str(info.value) == (f"plugin {BUILTINS / 'chat.py'} and entry point fake = "
                               "openline_fake_plugin: both claim namespace '/chat'")
