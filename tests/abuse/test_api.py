"""Attacks on ``POST /api/v1/emit``: token guessing, deep JSON, oversized bodies."""

from __future__ import annotations

import ipaddress
import json
import logging
from typing import Any

import aiohttp
import pytest
from openline.cluster.api import FAILURE_WINDOW, Failures

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
EMIT = {"namespace": "/chat", "event": "news", "data": []}
LOOPBACK = (ipaddress.ip_network("127.0.0.1/32"),)


async def post(url: str, headers: dict[str, str], data: Any) -> tuple[int, dict[str, str], Any]:
    """(status, headers, decoded JSON body) of one emit request."""
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/api/v1/emit", headers=headers, data=data) as resp:
            return resp.status, dict(resp.headers), await resp.json()


def nested(depth: int) -> str:
    """An emit body whose deepest array is ``depth`` levels down (the object is level 1)."""
    return ('{"namespace":"/chat","event":"news","data":' + "[" * (depth - 1)
            + "]" * (depth - 1) + "}")


async def test_wrong_token_flood_gets_429_after_the_limit(start_node: Any,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    """5 wrong tokens a minute allowed: the 6th try gets 429 with Retry-After, even with the right token."""
    node = await start_node(api_token=TOKEN, api_max_failures=5)
    caplog.set_level(logging.INFO, logger="openline.api")
    body = json.dumps(EMIT)
    statuses = []
    for i in range(5):
        status, _, _ = await post(node.url, {"Authorization": f"Bearer guess-{i}-xyzzy"}, body)
        statuses.append(status)
    assert statuses == [401] * 5
    for headers in ({"Authorization": "Bearer guess-9-xyzzy"}, AUTH, {}):
        status, got, answer = await post(node.url, headers, body)
        assert status == 429
        assert 1 <= int(got["Retry-After"]) <= FAILURE_WINDOW
        assert answer == {"error": f"too many wrong tokens; retry in {got['Retry-After']}s"}
    assert "xyzzy" not in caplog.text and TOKEN not in caplog.text
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "a wrong bearer token from 127.0.0.1 (1 of 5 allowed a minute)"
    assert lines[5].startswith("refused 127.0.0.1 for ")


async def test_failures_are_counted_per_address(start_node: Any) -> None:
    """One address over the limit gets 429; another (X-Forwarded-For via a trusted proxy) still emits."""
    node = await start_node(api_token=TOKEN, api_max_failures=2, trusted_proxies=LOOPBACK)
    body = json.dumps(EMIT)
    attacker = {"X-Forwarded-For": "203.0.113.7", "Authorization": "Bearer nope"}
    assert [(await post(node.url, attacker, body))[0] for _ in range(3)] == [401, 401, 429]
    status, _, answer = await post(node.url, {**AUTH, "X-Forwarded-For": "198.51.100.1"}, body)
    assert (status, answer) == (202, {"status": "accepted"})


def test_failure_window_slides() -> None:
    """A blocked address may try again once its oldest failure is a minute old; IPv6 counts per /64."""
    failures = Failures(2)
    failures.add("2001:db8::1", 0.0)
    failures.add("2001:db8::ffff", 10.0)  # the same /64
    assert failures.retry_after("2001:db8::2", 30.0) == 30
    assert failures.retry_after("2001:db8:1::1", 30.0) == 0  # another /64
    assert failures.retry_after("2001:db8::2", FAILURE_WINDOW + 0.5) == 0


async def test_deep_json_with_a_valid_token_is_400(start_node: Any,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    """A 50,000-deep body with the right token: 400 "body: nested deeper than 64", no traceback."""
    node = await start_node(api_token=TOKEN)
    caplog.set_level(logging.INFO)
    status, _, answer = await post(node.url, AUTH, nested(50_000))
    assert (status, answer) == (400, {"error": "body: nested deeper than 64 (--max-json-depth)"})
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


async def test_json_depth_limit_is_exact(start_node: Any) -> None:
    """--max-json-depth 8: a body 8 deep is accepted (202), 9 deep refused (400); strings do not count."""
    node = await start_node(api_token=TOKEN, max_json_depth=8)
    assert (await post(node.url, AUTH, nested(8)))[0] == 202
    assert (await post(node.url, AUTH, nested(9)))[:3:2] == (
        400, {"error": "body: nested deeper than 8 (--max-json-depth)"})
    brackets = json.dumps({**EMIT, "data": ["[[[[[[[[[[{{{{{{{{{{\\\"[[[["]})
    assert (await post(node.url, AUTH, brackets))[0] == 202


async def test_oversized_body_is_413(start_node: Any) -> None:
    """A body over --max-payload gets 413 with a JSON error, announced or chunked."""
    node = await start_node(api_token=TOKEN, max_payload=1000)
    big = json.dumps({**EMIT, "data": ["x" * 2000]}).encode()
    expected = (413, {"error": "body: larger than 1000 bytes (--max-payload)"})
    status, _, answer = await post(node.url, AUTH, big)
    assert (status, answer) == expected

    async def chunks() -> Any:
        for i in range(0, len(big), 100):
            yield big[i:i + 100]

    status, _, answer = await post(node.url, AUTH, chunks())
    assert (status, answer) == expected


async def test_invalid_utf8_body_is_400(start_node: Any) -> None:
    """A body that is not UTF-8 gets 400 "body: not valid JSON (UTF-8 expected)"."""
    node = await start_node(api_token=TOKEN)
    status, _, answer = await post(node.url, AUTH, b'{"namespace": "\xff"}')
    assert (status, answer) == (400, {"error": "body: not valid JSON (UTF-8 expected)"})
