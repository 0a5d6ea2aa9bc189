"""server/realtime/connect.py: what a session's environ keeps of each namespace's CONNECT."""

from __future__ import annotations

from typing import Any

from openline.realtime.connect import HANDSHAKE_KEY, handshake_of, note_handshake


def test_one_namespace_is_one_tuple_with_a_shared_name():
    """The usual single namespace is kept as one (namespace, time, auth) tuple, its name interned."""
    environ: dict[str, Any] = {}
    other: dict[str, Any] = {}
    note_handshake(environ, "".join(["/ch", "at"]), {"token": "x"})  # fresh strings, as
    note_handshake(other, "".join(["/c", "hat"]), None)  # CONNECT packets' slices are
    record = environ[HANDSHAKE_KEY]
    assert type(record) is tuple and record[0] == "/chat" and other[HANDSHAKE_KEY][0] is record[0]
    connected, auth = handshake_of(environ, "/chat")
    assert auth == {"token": "x"} and isinstance(connected, float)
    assert handshake_of(environ, "/other") == (None, None)


def test_more_namespaces_keep_each_their_own():
    """A second namespace turns the record into namespace -> (time, auth); a repeat replaces its own."""
    environ: dict[str, Any] = {}
    note_handshake(environ, "/", None)
    note_handshake(environ, "/chat", {"a": 1})
    note_handshake(environ, "/chat", {"a": 2})
    assert set(environ[HANDSHAKE_KEY]) == {"/", "/chat"}
    assert handshake_of(environ, "/")[1] is None and handshake_of(environ, "/chat")[1] == {"a": 2}
    assert handshake_of({}, "/") == (None, None)
