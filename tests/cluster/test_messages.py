"""The pub/sub message format, URL redaction and token checks: pure functions, no sockets."""

from __future__ import annotations

import json

import pytest
from openline.cluster.api import authorized
from openline.cluster.redis_manager import emit_message, message_args, redact


@pytest.mark.parametrize("args", [(), (None,), (1, "two", None), ([1, 2],), ({"a": [None]},),
                                  (b"\x00\xff", {"nested": b"hi"}), ([],)])
def test_arguments_survive_the_json_round_trip(args):
    """emit_message then message_args (through JSON) gives back exactly the arguments."""
    message = json.loads(json.dumps(emit_message("e", args, "/chat", "lobby", host_id="h")))
    assert message_args(message) == args


@pytest.mark.parametrize("data,expected", [([{"a": 1}], ({"a": 1},)), (["a", 2], ("a", 2)),
                                           ([None], ()), ([], ()), ([[1, 2]], ([1, 2],))])
def test_stock_python_socketio_messages_decode_as_stock_meant(data, expected):
    """Messages without the args marker follow python-socketio's folding (None: no argument)."""
    message = {"method": "emit", "event": "e", "data": data, "binary": False}
    assert message_args(message) == expected


def test_binary_travels_as_base64_attachments():
    """Bytes become base64 attachments in the message, as python-socketio's format has it."""
    message = emit_message("e", [b"\x01\x02"], "/", host_id="h")
    assert message["binary"] is True
    assert message["data"] == [[{"_placeholder": True, "num": 0}], "AQI="]


@pytest.mark.parametrize("url,shown", [
    ("redis://:pw@h:1/0", "redis://:***@h:1/0"), ("redis://u:pw@h:1/0", "redis://u:***@h:1/0"),
    ("rediss://h:1/0", "rediss://h:1/0"), ("unix:///tmp/redis.sock", "unix:///tmp/redis.sock")])
def test_redact_hides_only_the_password(url, shown):
    """Log lines and errors show the Redis URL without its password."""
    assert redact(url) == shown


@pytest.mark.parametrize("header,ok", [
    ("Bearer t0k", True), ("bearer t0k", True), ("Bearer  t0k ", True), ("Bearer t0k2", False),
    ("Bearer", False), ("Basic t0k", False), ("t0k", False), ("", False), (None, False)])
def test_bearer_header_check(header, ok):
    """Only "Bearer <token>" (scheme case-insensitive) authorizes the publish API."""
    assert authorized(header, "t0k") is ok
