"""The python-socketio / python-engineio seams in openline.realtime.seams: still there after an
upgrade, still used by openline, and complete (no private python-socketio name used unlisted)."""

from __future__ import annotations

import ast
import importlib
import inspect
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import bidict
import engineio
import pytest
import socketio
from openline.cluster.redis_manager import RedisManager
from openline.engine import Engine
from openline.realtime import seams
from openline.realtime.manager import FastEmitManager
from openline.realtime.seams import ENGINE_SURFACE, SEAMS, Seam
from openline.realtime.server import OpenlineServer

from tests.conftest import ROOT

SERVER_DIR = ROOT / "server"
SEE = "see openline.realtime.seams (server/realtime/seams.py)"
LIBRARIES = ("socketio", "engineio")
# The python-socketio modules of a server and its managers: what drives openline (the admin
# UI and the clients are left out: openline uses neither).
SIO_SERVER_MODULES = ("base_server", "async_server", "base_manager", "async_manager",
                      "async_pubsub_manager", "async_redis_manager", "base_namespace",
                      "async_namespace")
# The stock classes openline subclasses or drives; their MROs give the private names to watch.
STOCK_CLASSES: tuple[type, ...] = (
    socketio.AsyncServer, socketio.AsyncRedisManager, socketio.AsyncNamespace,
    socketio.packet.Packet, socketio.msgpack_packet.MsgPackPacket,
    engineio.AsyncServer, engineio.async_socket.AsyncSocket, engineio.packet.Packet,
)
VERBS = {"override": "overrides", "call": "calls", "public": "relies on", "mirror": "mirrors"}


# --- helpers ---------------------------------------------------------------------------------

def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _is_stock(cls: type) -> bool:
    return cls.__module__.split(".", 1)[0] in LIBRARIES


def _owner(seam: Seam) -> type:
    module, _, name = seam.owner.rpartition(".")
    owner = getattr(importlib.import_module(module), name)
    assert isinstance(owner, type)
    return owner


def _self_assigned(cls: type) -> set[str]:
    """The names a class's methods assign on ``self`` (instance attributes)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError):
        return set()
    return {node.attr for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
            and isinstance(node.value, ast.Name) and node.value.id == "self"}


def _stock_names(cls: type) -> set[str]:
    """Every name a stock class has: its attributes and methods, and those its methods assign."""
    names = set(dir(cls))
    for each in cls.__mro__:
        if _is_stock(each):
            names |= _self_assigned(each)
    return names


def _library(seam: Seam) -> str:
    return "python-engineio" if seam.owner.startswith("engineio.") else "python-socketio"


def _gone(seam: Seam, what: str = "is gone") -> str:
    return (f"{_library(seam)} seam {seam.owner}.{seam.name} {what}: openline {VERBS[seam.kind]} it "
            f"in {seam.where} (why: {seam.why}); {SEE}")


def _stale(seam: Seam, place: str, problem: str) -> str:
    return (f"seams.py lists {seam.owner}.{seam.name} ({seam.kind}) at {place!r}, but {problem}: "
            f"update or remove that entry; {SEE}")


def _places(seam: Seam) -> list[str]:
    return [place.strip() for place in seam.where.split(";")]


def _resolve(place: str) -> tuple[ModuleType, Any]:
    """The module and object a ``where`` entry names (the module itself for a bare file)."""
    path, _, qualname = place.partition(" ")
    module = importlib.import_module("openline." + path.removesuffix(".py").replace("/", "."))
    target: Any = module
    for part in qualname.split(".") if qualname else ():
        target = inspect.getattr_static(target, part)
        if isinstance(target, (staticmethod, classmethod)):
            target = target.__func__
        elif isinstance(target, property):
            target = target.fget
    return module, target


def _mentions(tree: ast.AST) -> set[str]:
    """Attribute names, definitions and string constants (getattr(x, "name")) in a tree."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(node.name)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.add(node.value)
    return found


def _source_tree(obj: Any) -> ast.AST:
    return ast.parse(textwrap.dedent(inspect.getsource(obj)))


def _named_params(sig: inspect.Signature) -> list[inspect.Parameter]:
    return [p for p in sig.parameters.values()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def _incompatible(stock: Any, ours: Any) -> str | None:
    """Why ``ours`` cannot be called the way python-socketio calls ``stock``; None if it can."""
    try:
        theirs, mine = inspect.signature(stock), inspect.signature(ours)
    except (TypeError, ValueError):
        return None
    wanted = [p.name for p in _named_params(theirs)]
    have = _named_params(mine)
    if [p.name for p in have[:len(wanted)]] != wanted:
        return f"stock takes {theirs}, openline's takes {mine}"
    for extra in have[len(wanted):]:
        if extra.default is inspect.Parameter.empty:
            return f"openline's {mine} adds {extra.name!r} without a default"
    kinds = {p.kind for p in mine.parameters.values()}
    for p in theirs.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.kind not in kinds:
            return f"stock takes {theirs} (note {p}), openline's takes {mine}"
    return None


def _stock_methods(classes: tuple[type, ...]) -> Iterator[tuple[type, str, ast.AST]]:
    """Each method defined by the stock classes in the given classes' MROs, with its tree."""
    seen: set[type] = set()
    for cls in classes:
        for each in cls.__mro__:
            if each in seen or not _is_stock(each):
                continue
            seen.add(each)
            for name, value in vars(each).items():
                if inspect.isfunction(value):
                    yield each, name, _source_tree(value)


def _defined_by_openline(cls: type, name: str) -> bool:
    """Whether ``cls.name`` resolves to a definition in an openline class (not a stock one)."""
    for each in cls.__mro__:
        if name in vars(each):
            return each.__module__.startswith("openline.")
    return False


def _sio_module_trees() -> Iterator[tuple[str, ast.AST]]:
    for name in SIO_SERVER_MODULES:
        module = importlib.import_module(f"socketio.{name}")
        path = inspect.getsourcefile(module)
        assert path is not None
        yield f"socketio/{name}.py", ast.parse(Path(path).read_text())


def _engine_uses() -> Iterator[tuple[str, ast.Attribute, ast.Call | None]]:
    """Each ``<x>.eio.<name>`` in python-socketio's server modules, with its call if called."""
    for path, tree in _sio_module_trees():
        calls = {id(node.func): node for node in ast.walk(tree) if isinstance(node, ast.Call)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) \
                    and node.value.attr == "eio":
                yield f"{path}:{node.lineno}", node, calls.get(id(node))


def _params(seam: Seam, owner: type) -> list[str]:
    attr = getattr(owner, seam.name)
    params = list(inspect.signature(attr).parameters)
    static = inspect.getattr_static(owner, seam.name)
    if inspect.isfunction(static) and params and params[0] == "self":
        params = params[1:]  # a plain method looked up on the class
    return params


def _ids(seam: Seam) -> str:
    return f"{seam.kind}:{seam.label}"


# --- each seam still exists, and openline still uses it -------------------------------------

@pytest.mark.parametrize("seam", SEAMS, ids=_ids)
def test_seam_still_exists_in_the_library(seam: Seam) -> None:
    """The listed python-socketio/engineio name exists on its class, with the parameters we use."""
    try:
        owner = _owner(seam)
    except (ImportError, AttributeError):
        pytest.fail(_gone(seam, f"is gone (no class {seam.owner})"), pytrace=False)
    if seam.name not in _stock_names(owner):
        pytest.fail(_gone(seam), pytrace=False)
    if seam.params is not None:
        params = _params(seam, owner)
        if params != list(seam.params):
            pytest.fail(_gone(seam, f"changed: it takes {params}, openline calls it as "
                                    f"{list(seam.params)}"), pytrace=False)


@pytest.mark.parametrize("seam", SEAMS, ids=_ids)
def test_openline_still_uses_seam(seam: Seam) -> None:
    """Each place a seam names still exists and still touches the name (overrides: defines it)."""
    for index, place in enumerate(_places(seam)):
        try:
            module, target = _resolve(place)
        except (ImportError, AttributeError) as exc:
            pytest.fail(_stale(seam, place, f"that is gone ({exc})"), pytrace=False)
        if target is not module and not getattr(target, "__module__", "").startswith("openline."):
            pytest.fail(_stale(seam, place, "that is no longer openline's own code"), pytrace=False)
        if seam.kind == "mirror":
            continue
        if inspect.isclass(target):
            if seam.name not in vars(target):
                pytest.fail(_stale(seam, place, f"{target.__name__} no longer defines it"), pytrace=False)
            continue
        tree = ast.parse(Path(module.__file__ or "").read_text()) if target is module \
            else _source_tree(target)
        if seam.name not in _mentions(tree):
            pytest.fail(_stale(seam, place, "that code no longer uses the name"), pytrace=False)
        if seam.kind == "override" and index == 0:
            qualname = place.partition(" ")[2]
            cls = _resolve(place.rpartition(".")[0])[1]
            if qualname.rpartition(".")[2] != seam.name or not inspect.isclass(cls):
                pytest.fail(_stale(seam, place, "an override's first place must be the class's own "
                                                "definition of the name"), pytrace=False)
            if seam.name not in vars(cls):
                pytest.fail(_stale(seam, place, f"{cls.__name__} no longer overrides it"), pytrace=False)
            if not issubclass(cls, _owner(seam)):
                pytest.fail(_stale(seam, place, f"{cls.__name__} is no subclass of {seam.owner}"),
                            pytrace=False)


def _redefined(seam: Seam) -> bool:
    """Whether the seam's first place is openline's own method of that name (not __init__)."""
    first = _places(seam)[0]
    return seam.kind in ("override", "public") and seam.name != "__init__" \
        and first.count(".") == 2 and first.rpartition(".")[2] == seam.name


@pytest.mark.parametrize("seam", [s for s in SEAMS if _redefined(s)], ids=_ids)
def test_override_takes_what_python_socketio_passes(seam: Seam) -> None:
    """An openline method overriding a stock one accepts every argument the stock one takes."""
    cls = _resolve(_places(seam)[0].rpartition(".")[0])[1]
    stock = getattr(_owner(seam), seam.name, None)
    if stock is None:
        pytest.fail(_gone(seam), pytrace=False)
    problem = _incompatible(stock, getattr(cls, seam.name))
    if problem is not None:
        pytest.fail(_gone(seam, f"changed its signature ({problem})"), pytrace=False)


def test_seams_are_listed_once_and_documented() -> None:
    """SEAMS has no duplicate entry, and the module docstring names every seam and engine name."""
    keys = [(s.owner, s.name, s.kind) for s in SEAMS]
    assert len(keys) == len(set(keys)), "a seam is listed twice in openline/realtime/seams.py"
    doc = seams.__doc__ or ""
    missing = [s.label for s in SEAMS if s.label not in doc]
    assert missing == [], f"seams.py's docstring does not list {missing}"
    engine_part = doc.partition("The engine surface")[2]
    missing = [e.name for e in ENGINE_SURFACE if e.name not in engine_part]
    assert missing == [], f"seams.py's docstring does not list engine names {missing}"


def test_seams_module_stays_at_the_bottom() -> None:
    """seams.py imports only the standard library, so any layer (and this test) may import it."""
    tree = ast.parse(Path(seams.__file__ or "").read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module and not node.level}
    relative = [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level]
    assert relative == [] and imported <= {"__future__", "dataclasses", "typing"}, imported


# --- no private python-socketio name used without being listed -------------------------------

def stock_private_names() -> set[str]:
    """The private names of the stock classes openline subclasses or drives."""
    classes = {*STOCK_CLASSES, *(_owner(s) for s in SEAMS)}
    return {name for cls in classes for name in _stock_names(cls) if _private(name)}


def listed_private_names(*kinds: str) -> set[str]:
    return {s.name for s in SEAMS if s.kind in kinds and _private(s.name)}


def unlisted_private_names(tree: ast.Module, stock: set[str], listed: set[str], overrides: set[str],
                           stock_derived: set[str], own_defined: set[str]) -> list[str]:
    """Private stock names a module uses but seams.py does not list, as "line: name (how)".

    ``listed``: the names seams.py lists as used, ``overrides`` those it lists as overridden.
    ``stock_derived``: the module's top-level classes that subclass a stock class; in them a
    definition of a stock name is an override. ``self.<name>`` inside any other class is that
    class's own; ``x.<name>`` on something else is taken as openline's when an openline class
    of its own defines the name (``own_defined``).
    """
    found: list[str] = []

    def visit(node: ast.AST, cls: str | None) -> None:
        if isinstance(node, ast.ClassDef):
            inner = node.name if cls is None else f"{cls}.<nested>"
            if inner in stock_derived:
                for item in node.body:
                    defined = []
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        defined = [item.name]
                    elif isinstance(item, (ast.Assign, ast.AnnAssign)):
                        targets = item.targets if isinstance(item, ast.Assign) else [item.target]
                        defined = [t.id for t in targets if isinstance(t, ast.Name)]
                    for name in defined:
                        if name in stock and name not in overrides:
                            found.append(f"{item.lineno}: {name} (overridden by {node.name})")
            for child in ast.iter_child_nodes(node):
                visit(child, inner)
            return
        if isinstance(node, ast.Attribute) and node.attr in stock and node.attr not in listed:
            on_self = isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
            if on_self and cls is not None and cls not in stock_derived:
                pass  # an openline class's own name
            elif not on_self and node.attr in own_defined:
                pass  # most likely the openline class that defines it
            else:
                found.append(f"{node.lineno}: {node.attr} (used)")
        for child in ast.iter_child_nodes(node):
            visit(child, cls)

    visit(tree, None)
    return found


def _openline_modules() -> Iterator[tuple[Path, ast.Module, ModuleType]]:
    for path in sorted(SERVER_DIR.rglob("*.py")):
        relative = path.relative_to(SERVER_DIR)
        if relative == Path("realtime/seams.py") or relative.name == "__main__.py":
            continue
        name = "openline." + ".".join(relative.with_suffix("").parts).removesuffix(".__init__")
        yield path, ast.parse(path.read_text()), importlib.import_module(name)


def _stock_derived(tree: ast.Module, module: ModuleType) -> set[str]:
    derived = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            cls = getattr(module, node.name, None)
            if inspect.isclass(cls) and any(_is_stock(c) for c in cls.__mro__):
                derived.add(node.name)
    return derived


def test_no_private_python_socketio_name_is_used_unlisted() -> None:
    """Every private python-socketio/engineio name server/ defines or uses is listed in SEAMS."""
    stock, overrides = stock_private_names(), listed_private_names("override")
    listed = listed_private_names("override", "call")
    modules = list(_openline_modules())
    own_defined: set[str] = set()
    for _path, tree, module in modules:
        derived = _stock_derived(tree, module)
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.name not in derived:
                own_defined |= {item.name for item in node.body
                                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))}
                own_defined |= {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)
                                and isinstance(n.ctx, ast.Store) and isinstance(n.value, ast.Name)
                                and n.value.id == "self"}
    unlisted = []
    for path, tree, module in modules:
        for hit in unlisted_private_names(tree, stock, listed, overrides, _stock_derived(tree, module),
                                          own_defined):
            unlisted.append(f"{path.relative_to(ROOT)}:{hit}")
    assert unlisted == [], (
        "server/ uses private python-socketio/engineio names that openline/realtime/seams.py does "
        f"not list; add a Seam (owner, where, why) for each: {unlisted}")


def test_unlisted_scan_catches_a_new_private_name() -> None:
    """The scan flags unlisted overrides and calls (a name listed as called but now overridden too)
    and leaves listed and openline-own names alone."""
    source = textwrap.dedent("""
        class Server(socketio.AsyncServer):
            def _handle_eio_message(self, sid, data):
                self._held = {}
                self._get_namespace_handler("/", ())
            def _handle_ack(self, *args):
                pass
            async def _handle_disconnect(self, *args):
                await self._handle_disconnect(*args)

        class Own:
            def _trigger_event(self):
                return self._trigger_event
    """)
    stock = {"_get_namespace_handler", "_handle_ack", "_handle_disconnect", "_handle_eio_message",
             "_trigger_event"}
    found = unlisted_private_names(ast.parse(source), stock, {"_handle_eio_message", "_handle_disconnect"},
                                   {"_handle_eio_message"}, {"Server"}, {"_trigger_event"})
    assert sorted(found) == ["5: _get_namespace_handler (used)", "6: _handle_ack (overridden by Server)",
                             "8: _handle_disconnect (overridden by Server)"]


# --- the engine surface: what python-socketio calls on openline's Engine ---------------------

def test_engine_surface_lists_what_python_socketio_calls() -> None:
    """ENGINE_SURFACE is exactly the set of names python-socketio's server uses on ``self.eio``."""
    used: dict[str, list[str]] = {}
    for where, node, _call in _engine_uses():
        used.setdefault(node.attr, []).append(where)
    listed = {e.name for e in ENGINE_SURFACE}
    new = {name: places for name, places in used.items() if name not in listed}
    assert new == {}, (f"python-socketio now uses these on its engine: {new}; implement each on "
                       f"openline.engine.Engine and add it to ENGINE_SURFACE; {SEE}")
    unused = sorted(listed - set(used))
    assert unused == [], f"python-socketio no longer uses {unused} on its engine: remove from ENGINE_SURFACE"


@pytest.mark.parametrize("name", [e.name for e in ENGINE_SURFACE])
def test_engine_implements_the_surface(name: str) -> None:
    """openline's Engine has each name python-socketio uses on its engine."""
    caller = next(e.caller for e in ENGINE_SURFACE if e.name == name)
    assert hasattr(Engine, name), (f"openline.engine.Engine lacks {name!r}, which python-socketio "
                                   f"calls on self.eio ({caller}); {SEE}")


def test_engine_accepts_python_socketio_calls() -> None:
    """Each call python-socketio makes on its engine binds to Engine's signature for that name."""
    problems = []
    for where, node, call in _engine_uses():
        if call is None or not hasattr(Engine, node.attr):
            continue
        if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
            continue  # *args / **kwargs: passed through as given
        sig = inspect.signature(getattr(Engine, node.attr))
        if inspect.isfunction(inspect.getattr_static(Engine, node.attr)):
            sig = sig.replace(parameters=list(sig.parameters.values())[1:])  # self
        try:
            sig.bind(*call.args, **{k.arg: k.value for k in call.keywords if k.arg})
        except TypeError as exc:
            problems.append(f"{where} eio.{node.attr}: {exc} (Engine.{node.attr}{sig})")
    assert problems == [], f"python-socketio calls openline's Engine in ways it does not accept: {problems}"


def test_engine_takes_the_events_and_options_python_socketio_gives() -> None:
    """Engine takes each event python-socketio registers with ``eio.on`` and any engine keyword."""
    events = {str(call.args[0].value) for _where, node, call in _engine_uses()
              if call is not None and node.attr == "on" and call.args
              and isinstance(call.args[0], ast.Constant)}
    assert events and events <= set(Engine.event_names), \
        f"python-socketio registers {sorted(events)} with eio.on; Engine knows {Engine.event_names}"
    kinds = {p.kind for p in inspect.signature(Engine.__init__).parameters.values()}
    assert inspect.Parameter.VAR_KEYWORD in kinds, \
        "python-socketio passes its engine options (async_handlers=False, ...) to Engine(**options)"


def test_engine_reasons_are_python_engineios() -> None:
    """Engine.reason carries engineio.Server.reason's strings, which python-socketio hands on."""
    stock = {k: v for k, v in vars(engineio.Server.reason).items() if k.isupper()}
    ours = {k: getattr(Engine.reason, k, None) for k in stock}
    assert stock and ours == stock, f"openline's Engine.reason {ours} differs from engineio's {stock}"
    assert socketio.AsyncServer.reason is engineio.Server.reason, \
        "python-socketio's reason is no longer python-engineio's: recheck Engine.reason"


def test_per_session_engine_calls_go_through_openline() -> None:
    """Stock server methods calling ``self.eio.<x>(eio_sid)`` are OpenlineServer's, for bridge sessions."""
    stray = []
    for cls, name, tree in _stock_methods((socketio.AsyncServer,)):
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "eio" \
                    and node.args and isinstance(node.args[0], ast.Name) and node.args[0].id == "eio_sid" \
                    and not _defined_by_openline(OpenlineServer, name):
                stray.append(f"{cls.__qualname__}.{name} calls eio.{node.func.attr}(eio_sid)")
    assert stray == [], (f"{stray}: a bridge session's sid would reach the Engine; override in "
                         f"OpenlineServer to go through _engine_for, and list it; {SEE}")


# --- the manager's data, kept in stock's shape or with every stock user overridden -------------

@pytest.mark.parametrize("manager", [FastEmitManager, RedisManager])
def test_stock_users_of_pending_sets_are_overridden(manager: type) -> None:
    """Every stock manager method touching pending_connect/pending_disconnect is openline's."""
    stray, users = [], set()
    for cls, name, tree in _stock_methods((manager,)):
        touches = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)} \
            & {"pending_connect", "pending_disconnect"}
        if touches and name != "__init__":  # __init__ only makes the empty dicts
            users.add(name)
            if not _defined_by_openline(manager, name):
                stray.append(f"{cls.__qualname__}.{name} ({', '.join(sorted(touches))})")
    assert users, "no stock manager method touches the pending tables any more: recheck seams.py"
    for each in manager.__mro__:  # an override must not hand over to stock's version either
        if each.__module__.startswith("openline."):
            for name in users & set(vars(each)):
                calls = {n.func.attr for n in ast.walk(_source_tree(vars(each)[name]))
                         if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                         and isinstance(n.func.value, ast.Call) and ast.unparse(n.func.value) == "super()"}
                if name in calls:
                    stray.append(f"{each.__qualname__}.{name} calls super().{name}")
    assert stray == [], (f"{stray} reach stock code that treats the pending sets as lists; "
                         f"override them in FastEmitManager; {SEE}")


@pytest.mark.parametrize("manager", [FastEmitManager, RedisManager])
def test_stock_writes_to_rooms_are_overridden(manager: type) -> None:
    """Every stock manager method writing into ``rooms`` is openline's, so _memberships stays true."""
    stray = []
    for cls, name, tree in _stock_methods((manager,)):
        for node in ast.walk(tree):
            if isinstance(node, ast.Subscript) and isinstance(node.ctx, (ast.Store, ast.Del)) \
                    and "self.rooms" in ast.unparse(node) and not _defined_by_openline(manager, name):
                stray.append(f"{cls.__qualname__}.{name}")
                break
    assert stray == [], (f"{stray} change rooms behind FastEmitManager's reverse index "
                         f"(_memberships); override them; {SEE}")


def test_stock_manager_keeps_rooms_and_callbacks_in_the_shape_openline_reads() -> None:
    """rooms[ns][room] is a bidict refusing a second sid per eio_sid; callbacks[sid][0] counts ids."""
    manager = socketio.AsyncManager()
    manager.basic_enter_room("sid1", "/", None, eio_sid="eio1")
    assert isinstance(manager.rooms["/"][None], bidict.bidict)
    with pytest.raises(bidict.ValueDuplicationError):  # FastEmitManager.pre_connect relies on it
        manager.basic_enter_room("sid2", "/", None, eio_sid="eio1")

    def callback() -> None:
        pass

    ack_id = manager._generate_ack_id("sid1", callback)
    assert ack_id == 1 and manager.callbacks["sid1"][1] is callback
    assert next(manager.callbacks["sid1"][0]) == 2, "callbacks[sid][0] is no longer the id counter"
