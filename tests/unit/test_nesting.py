"""Nesting depth (server/realtime/packet_rules.py, server/bridge/envelope.py): the cheap pre-checks are
necessary conditions of the walk, the walk counts levels exactly and never recurses."""

from __future__ import annotations

import json

import msgpack
import orjson
import pytest
from openline.bridge.envelope import Inbound, decode_frame
from openline.errors import EnvelopeError, ProtocolError
from openline.realtime.packet_rules import (
    check_depth,
    json_may_nest,
    json_min_length,
    msgpack_may_nest,
    msgpack_min_length,
    nested_deeper,
)


def deep_list(depth: int) -> list[object]:
    value: list[object] = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize("value,depth", [
    (1, 0), ("[[[", 0), ([], 1), ({}, 1), ([1, {"a": [2]}], 3), ({"a": {"b": {"c": 1}}}, 3),
    ([[], [[[]]], []], 4), (deep_list(64), 64), (deep_list(5000), 5000),
])
def test_nested_deeper_counts_levels_exactly(value, depth):
    """nested_deeper(v, n) is True exactly for n below the depth (no recursion at 5,000)."""
    assert nested_deeper(value, depth) is False
    assert nested_deeper(value, depth - 1) is (depth > 0)


def test_check_depth_raises_a_protocol_error_naming_the_limit():
    """check_depth: ProtocolError("nested deeper than N") past the limit, None within."""
    check_depth(deep_list(64), 64)
    with pytest.raises(ProtocolError, match="^nested deeper than 64$"):
        check_depth(deep_list(65), 64)


@pytest.mark.parametrize("value", [
    deep_list(65), {"a": deep_list(64)}, ["x", {"k": [[[[[[[]]]]]]]}], [deep_list(70), "[" * 10],
])
def test_pre_checks_never_miss_a_deep_value(value):
    """Any value deeper than N passes both pre-checks (they only skip the walk)."""
    limit = 5 if len(json.dumps(value)) < 100 else 64
    assert nested_deeper(value, limit)
    text = orjson.dumps(value).decode()
    assert len(text) >= json_min_length(limit) and json_may_nest(text, limit)
    packed = msgpack.packb({"type": 2, "nsp": "/", "data": value})
    assert len(packed) >= msgpack_min_length(limit) and msgpack_may_nest(packed, limit)


@pytest.mark.parametrize("limit", [1, 2, 64, 200])
def test_min_lengths_are_those_of_the_shortest_deep_packets(limit):
    """The length floors are exact: the shortest value one level too deep has that length."""
    assert len(orjson.dumps(deep_list(limit + 1))) == json_min_length(limit)
    shortest = msgpack.packb({"type": 0, "nsp": None, "data": deep_list(limit + 1)})
    assert len(shortest) == msgpack_min_length(limit)


def test_pre_checks_skip_flat_payloads():
    """A flat event with a long string (and brackets in binaries) skips the walk."""
    assert not json_may_nest(orjson.dumps(["chat", "x" * 10_000]).decode(), 64)
    assert not msgpack_may_nest(msgpack.packb({"type": 2, "nsp": "/", "data": ["b", b"\x00" * 5000]}), 64)


@pytest.mark.parametrize("frame,reason", [
    ('{"event":"e","data":' + "[" * 65 + "]" * 65 + "}", "nested deeper than 64"),
    ('{"event":"e","data":{"a":' + "[" * 63 + "]" * 63 + "}}", "nested deeper than 64"),
    ('{"ack":1,"data":' + "[" * 500 + "]" * 500 + "}", "nested deeper than 64"),
    ('{"event":"e","data":' + "[" * 2000 + "]" * 2000 + "}", "nested deeper than 64"),
    ('{"event":"e","data":' + "[" * 900 + '{"$binary":"AA=="}' + "]" * 900 + "}",
     "nested deeper than 64"),
    ('{"event":"e","data":{"$binary":"\u00e9"}}', "$binary is not valid base64"),
    ('{"event":"e","data":{"$binary":"A"}}', "$binary is not valid base64"),
    ('{"event":"e","data":{"$binary":1}}', "$binary must be a base64 string"),
])
def test_malformed_envelope_raises_envelope_error_only(frame, reason):
    """Deep, badly encoded or mistyped envelopes raise EnvelopeError with the reason."""
    with pytest.raises(EnvelopeError) as raised:
        decode_frame(frame)
    assert str(raised.value) == reason


def test_envelope_depth_limit_is_a_parameter():
    """decode_frame(max_depth=N) refuses N + 1 levels of arguments and accepts N."""
    assert decode_frame('{"event":"e","data":[[[1]]]}', max_depth=3) == Inbound("e", [[[1]]])
    with pytest.raises(EnvelopeError, match="nested deeper than 2"):
        decode_frame('{"event":"e","data":[[[1]]]}', max_depth=2)
