"""The namespace path syntax (exact, '*', <name>, <path:name>, re.Pattern), Namespace.use and
params, which object serves a namespace, and refusals shaped as python-socketio's."""

from __future__ import annotations

import re
from typing import Any

import pytest
import socketio
from openline import Namespace
from openline.config import Config
from openline.realtime.handler_shape import accepts_auth
from openline.realtime.namespaces import compile_path, label, refusal_of
from openline.realtime.server import OpenlineServer


@pytest.mark.parametrize("path", ["/", "/chat", "*", "/a.b+c(d)"])
def test_exact_paths_and_the_catch_all_compile_to_none(path: str) -> None:
    """An exact path (regex characters included) and '*' declare no pattern."""
    assert compile_path(path) is None


@pytest.mark.parametrize("path,namespace,params", [
    ("/rooms/<id>", "/rooms/42", {"id": "42"}),
    ("/rooms/<id>", "/rooms/4/2", None),              # one segment only
    ("/rooms/<id>", "/rooms/", None),                 # one character at least
    ("/t/<tenant>/r/<room>", "/t/acme/r/x-1", {"tenant": "acme", "room": "x-1"}),
    ("/files/<path:rest>", "/files/a/b.txt", {"rest": "a/b.txt"}),
    ("/files/<path:rest>", "/files/", None),
    ("/v1.<id>", "/v1.x", {"id": "x"}),              # literal parts are escaped
    ("/v1.<id>", "/v1-x", None),
])
def test_template_matches_whole_namespaces(path: str, namespace: str, params: dict[str, str] | None) -> None:
    """<name> is one segment, <path:name> the rest with '/'; the whole namespace must match."""
    pattern = compile_path(path)
    assert pattern is not None
    found = pattern.fullmatch(namespace)
    assert (found.groupdict() if found else None) == params


@pytest.mark.parametrize("path,message", [
    ("chat", "namespace path 'chat' must start with '/' (or be '*')"),
    (5, "namespace path 5 must start with '/' (or be '*')"),
    ("/r/<int:id>", "namespace pattern '/r/<int:id>': <int:id> is not <name> or <path:name> with a "
                    "new Python identifier (for anything else give a compiled re.Pattern)"),
    ("/r/<1d>", "namespace pattern '/r/<1d>': <1d> is not <name>"),
    ("/r/<a>/<a>", "namespace pattern '/r/<a>/<a>': <a> is not <name>"),
    ("/r/<a", "namespace pattern '/r/<a': unmatched '<' or '>'"),
    ("/r/a>", "namespace pattern '/r/a>': unmatched '<' or '>'"),
    (re.compile(rb"/x"), "namespace pattern b'/x' must be a str pattern, not bytes"),
])
def test_bad_paths_say_what_is_wrong(path: Any, message: str) -> None:
    """A path openline cannot serve raises ValueError naming the path and the fault."""
    with pytest.raises(ValueError) as info:
        compile_path(path)
    assert str(info.value).startswith(message)


def test_a_regex_is_used_as_given_and_labelled_by_its_text() -> None:
    """A compiled re.Pattern is the pattern itself; logs and clashes name it by its text."""
    pattern = re.compile(r"/dyn-(?P<n>\d+)")
    assert compile_path(pattern) is pattern and label(pattern) == r"/dyn-(?P<n>\d+)"
    assert label("/rooms/<id>") == "/rooms/<id>"


def test_namespace_params_and_hooks_in_order() -> None:
    """Namespace.params reads the pattern's groups; hooks come from the class, middlewares= and use()."""
    def first(*args: Any) -> None:
        pass

    def second(*args: Any) -> None:
        pass

    def third(*args: Any) -> None:
        pass

    class Rooms(Namespace):
        middlewares = [first]

    rooms = Rooms("/rooms/<id>", middlewares=[second])
    assert rooms.use(third) is third
    assert rooms.middlewares == [first, second, third] and Rooms.middlewares == [first]
    assert rooms.params("/rooms/9") == {"id": "9"} and rooms.params("/other") == {}
    assert Namespace("/exact").params("/exact") == {} and Namespace("*").params("/x") == {}
    with pytest.raises(TypeError):
        rooms.use("not callable")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Namespace("/r/<int:id>")


def test_server_resolves_exact_then_patterns_in_order_then_catch_all() -> None:
    """serving/serves/leading: exact objects stay in namespace_handlers, patterns in order, then '*'."""
    sio = OpenlineServer(Config())
    exact, first, second, star = (socketio.AsyncNamespace(p) for p in
                                  ("/rooms/lobby", "/rooms/<id>", "/<any>/<id>", "*"))
    assert not sio.serves("/rooms/1") and sio.serving("/rooms/1") is None
    for ns in (exact, first, second):
        sio.register_namespace(ns)
    assert set(sio.namespace_handlers) == {"/rooms/lobby"} and exact.server is sio and first.server is sio
    assert sio.serving("/rooms/1") is first and sio.serving("/x/1") is second
    assert not sio.serves("/a/b/c")
    sio.register_namespace(star)
    assert sio.serving("/a/b/c") is star and sio.serves("/a/b/c") and sio.serves("/rooms/lobby")
    assert sio.leading("/rooms/lobby") == () and sio.leading("/rooms/1") == ("/rooms/1",)
    assert sio._get_namespace_handler("/rooms/1", ("sid",)) == (first, ("/rooms/1", "sid"))
    assert sio._get_namespace_handler("/rooms/lobby", ("sid",)) == (exact, ("sid",))


@pytest.mark.parametrize("args,expected", [
    ((), {"message": "Connection rejected by server"}),
    (("no",), {"message": "no"}),
    (("no", {"code": 1}), {"message": "no", "data": {"code": 1}}),
])
def test_builtin_refusal_is_shaped_as_python_socketios(args: tuple[Any, ...],
                                                       expected: dict[str, Any]) -> None:
    """The builtin ConnectionRefusedError(message, data) gives CONNECT_ERROR as socketio's own does."""
    assert refusal_of(ConnectionRefusedError(*args)) == expected
    if args:
        assert socketio.exceptions.ConnectionRefusedError(*args).error_args == expected


def test_connect_handler_shape_counts_the_leading_namespace() -> None:
    """A '*' or pattern on_connect(namespace, sid, environ) takes no auth; one more parameter does."""
    def without(namespace: str, sid: str, environ: dict[str, Any]) -> None:
        pass

    def with_auth(namespace: str, sid: str, environ: dict[str, Any], auth: Any) -> None:
        pass

    assert accepts_auth(without) and not accepts_auth(without, 1)
    assert accepts_auth(with_auth, 1)
