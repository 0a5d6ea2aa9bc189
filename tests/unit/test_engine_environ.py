"""The engine's environ: a mapping read from the handshake request, with dict behaviour."""

from __future__ import annotations

import sys

import pytest
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from server.engine.request import Environ


def _environ() -> Environ:
    headers = CIMultiDict([("Host", "example.test:1740"), ("X-Tag", "a"), ("X-Tag", "b"),
                           ("Content-Type", "text/plain")])
    request = make_mocked_request("GET", "/socket.io/?EIO=4&transport=websocket", headers=headers)
    return Environ(request, "203.0.113.9", 51000)


def test_keys_match_the_wsgi_environ():
    """Every key python-engineio's aiohttp driver builds is there, with the real client."""
    env = _environ()
    assert env["REMOTE_ADDR"] == "203.0.113.9"
    assert env["REMOTE_PORT"] == "51000"
    assert env["REQUEST_METHOD"] == "GET"
    assert env["PATH_INFO"] == "/socket.io/"
    assert env["QUERY_STRING"] == "EIO=4&transport=websocket"
    assert env["RAW_URI"] == "/socket.io/?EIO=4&transport=websocket"
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["HTTP_HOST"] == "example.test:1740"
    assert env["HTTP_X_TAG"] == "a,b"  # repeated headers joined, as WSGI servers do
    assert env["CONTENT_TYPE"] == "text/plain"
    assert env["wsgi.errors"] is sys.stderr
    assert env["aiohttp.request"] is env.request
    assert set(env) == set(env.copy()) and len(env) == len(env.copy())
    assert "HTTP_X_TAG" in env and "HTTP_MISSING" not in env
    assert env.get("HTTP_MISSING", "none") == "none"


def test_writes_and_deletes_behave_as_in_a_dict():
    """A handler may set, overwrite and delete keys; reads and iteration see the change."""
    env = _environ()
    env["app.user"] = "ada"
    env["REMOTE_ADDR"] = "198.51.100.1"
    del env["HTTP_X_TAG"]
    assert env["app.user"] == "ada"
    assert env["REMOTE_ADDR"] == "198.51.100.1"
    assert "HTTP_X_TAG" not in env and "HTTP_X_TAG" not in dict(env)
    assert dict(env)["app.user"] == "ada"
    with pytest.raises(KeyError):
        env["HTTP_X_TAG"]
    with pytest.raises(KeyError):
        del env["HTTP_X_TAG"]
    assert env.pop("app.user") == "ada" and "app.user" not in env
