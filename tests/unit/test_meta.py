"""Meta-tests: built-ins have tests, every option is documented, every documented flag exists."""

from __future__ import annotations

import ast
import pkgutil
import re

import openline.namespaces as namespaces
from openline.config import OPTIONS

from tests.conftest import ROOT, TESTS

README = ROOT / "README.md"
TABLE_ROW = re.compile(r"^\|\s*`(--[a-z0-9-]+)[^`]*`\s*\|\s*`(OPENLINE_[A-Z0-9_]+)`\s*\|", re.M)


def test_every_builtin_namespace_module_has_tests():
    """Each namespaces/<name>.py has tests/integration/test_builtin_<name>.py with tests."""
    modules = [m.name for m in pkgutil.iter_modules(namespaces.__path__) if not m.name.startswith("_")]
    assert modules, "no built-in namespace modules found"
    for name in modules:
        path = TESTS / "integration" / f"test_builtin_{name}.py"
        assert path.is_file(), f"namespaces/{name}.py has no {path.relative_to(ROOT)}"
        tree = ast.parse(path.read_text())
        tests = [node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                 and node.name.startswith("test_")]
        assert tests, f"{path.relative_to(ROOT)} defines no test"


def test_every_test_has_a_one_line_docstring():
    """Every test function in tests/ states its behaviour in a docstring."""
    missing = []
    for path in sorted(TESTS.rglob("test_*.py")):
        if "node_modules" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_"):
                doc = ast.get_docstring(node)
                if not doc or not doc.strip():
                    missing.append(f"{path.relative_to(ROOT)}::{node.name}")
    assert missing == []


def test_readme_config_table_has_every_option():
    """README's configuration table has a row with each option's flag and environment name."""
    rows = dict(TABLE_ROW.findall(README.read_text()))
    for opt in OPTIONS:
        assert opt.flag in rows, f"README configuration table lacks {opt.flag}"
        assert rows[opt.flag] == opt.env, f"README gives {rows[opt.flag]} for {opt.flag}, not {opt.env}"


def test_every_documented_flag_exists():
    """Every flag in README's configuration table is a real option of `openline run`."""
    documented = set(dict(TABLE_ROW.findall(README.read_text())))
    assert documented, "README has no configuration table rows"
    assert documented <= {opt.flag for opt in OPTIONS}
