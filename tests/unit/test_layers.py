"""The package tree draws the architecture: layers as packages, imports only pointing down.

Ranks, bottom up: the foundation modules (errors, config, logsafe), net, engine and recovery
(side by side), realtime, then bridge and cluster side by side (neither imports the
other), then ops (metrics, health, status: it reports on all of them), then the shell,
then the built-in plugins. A module may import its own layer package or a lower rank. Imports
under ``if TYPE_CHECKING:`` count: a circle drawn only for the type checker is a circle.
"""

from __future__ import annotations

import ast
import configparser
from pathlib import Path

import pytest

from tests.conftest import ROOT

SERVER = ROOT / "server"
NAMESPACES = ROOT / "namespaces"

FOUNDATION = {"openline.errors", "openline.config", "openline.values", "openline.logsafe"}
RANKS = {"net": 1, "engine": 2, "recovery": 2, "realtime": 3, "bridge": 4, "cluster": 4, "ops": 5}
SHELL_RANK, PLUGIN_RANK = 6, 7
LAYER_PACKAGES = {"server", "server/net", "server/engine", "server/recovery", "server/realtime",
                  "server/bridge", "server/cluster", "server/ops"}


def _modules() -> dict[str, Path]:
    found = {}
    for folder, package in ((SERVER, "openline"), (NAMESPACES, "openline.namespaces")):
        for path in sorted(folder.rglob("*.py")):
            parts = [package, *path.relative_to(folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The openline modules ``name`` imports (``from . import x`` names module x when it is one)."""
    is_package = path.name == "__init__.py"
    here = name.split(".") if is_package else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[:len(here) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("openline"):
                continue
            submodules = {f"{target}.{a.name}" for a in node.names} & MODULES.keys()
            found |= submodules
            if node.module or len(submodules) < len(node.names):
                found.add(target)  # a name of the module itself, not only its submodules
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("openline"))
    return {t for t in found if t in MODULES and t != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def rank(module: str) -> tuple[int, str]:
    """(rank, layer) of a module; the layer is its package for engine..cluster."""
    if module in FOUNDATION:
        return 0, "foundation"
    parts = module.split(".")
    if parts[1:2] == ["namespaces"]:
        return PLUGIN_RANK, "namespaces"
    if len(parts) > 2 or (len(parts) == 2 and parts[1] in RANKS):
        return RANKS[parts[1]], parts[1]
    return SHELL_RANK, "shell"


def test_the_tree_holds_the_layer_packages():
    """server/ holds exactly the layer packages, each a package listed in setup.cfg."""
    folders = {str(p.parent.relative_to(ROOT)) for p in SERVER.rglob("*.py")}
    assert folders == LAYER_PACKAGES
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    listed = set(cfg["options"]["packages"].split())
    wanted = {"openline" + f[len("server"):].replace("/", ".") for f in LAYER_PACKAGES}
    assert listed == wanted | {"openline.namespaces"}


@pytest.mark.parametrize("package", sorted(LAYER_PACKAGES - {"server"}))
def test_each_layer_says_what_it_owns_and_may_import(package):
    """Each layer package's docstring says what the layer owns and what it may import."""
    doc = ast.get_docstring(ast.parse((ROOT / package / "__init__.py").read_text())) or ""
    assert "Owns:" in doc and "May import:" in doc, f"{package}/__init__.py docstring"


def test_imports_only_point_down_the_layers():
    """No module imports a higher layer, or a sibling layer (bridge and cluster)."""
    upward = []
    for module, targets in GRAPH.items():
        mine, my_layer = rank(module)
        for target in targets:
            theirs, their_layer = rank(target)
            if theirs < mine or their_layer == my_layer:
                continue
            upward.append(f"{module} ({my_layer}) imports {target} ({their_layer})")
    assert upward == []


def test_the_foundation_imports_only_the_foundation():
    """errors, config and logsafe, which every layer imports, import no layer."""
    assert {m: GRAPH[m] - FOUNDATION for m in FOUNDATION} == {m: set() for m in FOUNDATION}


def test_the_import_graph_has_no_circle():
    """No module reaches itself through imports (the engine's session <-> server circle is gone)."""
    circles = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for target in sorted(GRAPH[module]):
            if state.get(target) == 1:
                circles.append(" -> ".join(stack[stack.index(target):] + [target]))
            elif target not in state:
                visit(target)
        stack.pop()
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)
    assert circles == []


def test_the_checker_sees_an_upward_import():
    """The graph reads relative imports: the realtime server's import of the engine is an edge."""
    assert "openline.engine" in GRAPH["openline.realtime.server"]
    assert rank("openline.realtime.server") > rank("openline.engine")
    assert "openline.engine.session" in GRAPH["openline.engine.polling"]
    assert "openline.engine.server" not in GRAPH["openline.engine.session"]
