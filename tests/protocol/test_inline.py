"""Long-polling requests served in the read callback (engine/inline.py): answers keep
their order on a connection, a GET waiting there is a request in progress (not idle),
CORS and compression heads are the ones aiohttp's path writes, and what the inline path
declines still gets aiohttp's answer on the same connection. (A waiting GET outliving
--idle-timeout: tests/abuse/test_http.py.)"""

from __future__ import annotations

import gzip
import json

import pytest

from tests.conftest import UNIT
from tests.protocol.test_fast_path import Raw, head, session

UNKNOWN = (head("400 Bad Request", "Content-Type: application/json", "Content-Length: 41",
                "Date: <date>", "Server: openline"),
           b'{"code":1,"message":"Session ID unknown"}')


def connected(base: str, extra: str = "") -> tuple[Raw, Raw, str]:
    """A session connected to the echo namespace ``/``, its CONNECT ack taken."""
    gets, posts, url = session(base, extra=extra)
    posts.send("POST", url, extra, b"40")
    assert posts.answer()[1] == b"ok"
    gets.send("GET", url, extra)
    assert gets.answer()[1].startswith(b'40{"sid":"')
    return gets, posts, url


def test_requests_behind_a_waiting_get_are_answered_after_it(full: str) -> None:
    """A request pipelined behind a waiting GET is answered after that GET, in order."""
    gets, posts, url = connected(full)
    # the GET waits (nothing queued); a refused request follows on the same connection
    gets.sock.sendall(f"GET {url} HTTP/1.1\r\nHost: x\r\n\r\n"
                      "GET /socket.io/?EIO=4&transport=polling&sid=nope HTTP/1.1\r\nHost: x\r\n\r\n"
                      .encode())
    gets.sock.settimeout(0.3 * UNIT)
    with pytest.raises(TimeoutError):
        gets._more()  # neither is answered while the GET waits
    gets.sock.settimeout(10 * UNIT)
    posts.send("POST", url, body=b'42["message","hi"]')
    assert posts.answer()[1] == b"ok"
    text, body = gets.answer()
    assert body == b'42["message","hi"]'
    assert gets.answer() == UNKNOWN
    gets.close()
    posts.close()


def test_pipelined_posts_are_each_answered_in_order(full: str) -> None:
    """Two POSTs written at once on one connection get two answers, in order, all handled."""
    gets, posts, url = connected(full)
    one, two = b'42["message","one"]', b'42["message","two"]'
    posts.sock.sendall(b"".join(
        f"POST {url} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain;charset=UTF-8\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode() + body for body in (one, two)))
    assert posts.answer()[1] == b"ok"
    assert posts.answer()[1] == b"ok"
    seen = b""
    while seen.count(b"42[") < 2:
        gets.send("GET", url)
        seen += gets.answer()[1] + b"\x1e"
    assert seen.rstrip(b"\x1e").split(b"\x1e") == [one, two]
    gets.close()
    posts.close()


def test_inline_get_and_post_carry_the_cors_head(cors: str) -> None:
    """An allowed Origin's headers lead a poll's and a POST's answer, as on aiohttp's path."""
    origin = "Origin: http://allowed.example\r\n"
    gets, posts, url = connected(cors, origin)
    allowed = ("Access-Control-Allow-Origin: http://allowed.example",
               "Access-Control-Allow-Credentials: true", "Vary: Origin")
    posts.send("POST", url, origin, b'42["message","x"]')
    assert posts.answer() == (head("200 OK", *allowed, "Content-Type: text/html; charset=utf-8",
                                   "Content-Length: 2", "Date: <date>", "Server: openline"), b"ok")
    gets.send("GET", url, origin)
    text, body = gets.answer()
    assert body == b'42["message","x"]'
    assert text == head("200 OK", *allowed, "Cache-Control: no-store",
                        "Content-Type: text/plain; charset=utf-8", "Content-Length: 17",
                        "Date: <date>", "Server: openline")
    gets.close()
    posts.close()


def test_a_refused_origin_still_gets_403_on_a_live_session(cors: str) -> None:
    """A GET of a live session from an origin not allowed is refused with 403 and the reference body."""
    gets, posts, url = connected(cors, "Origin: http://allowed.example\r\n")
    other = Raw(cors)
    other.send("GET", url, "Origin: http://evil.example\r\n")
    assert other.answer() == (head("403 Forbidden", "Content-Type: application/json",
                                   "Content-Length: 32", "Date: <date>", "Server: openline"),
                              b'{"code":4,"message":"Forbidden"}')
    for raw in (gets, posts, other):
        raw.close()


def test_a_large_poll_is_gzipped_with_its_content_encoding_after_the_type(full: str) -> None:
    """A payload over the compression threshold is gzipped, Content-Encoding right after Content-Type."""
    gets, posts, url = connected(full)
    text = "x" * 3000
    posts.send("POST", url, body=json.dumps(["message", text]).encode().join([b"42", b""]))
    assert posts.answer()[1] == b"ok"
    gets.send("GET", url, "Accept-Encoding: gzip\r\n")
    head_text, body = gets.answer()
    assert head_text == head("200 OK", "Cache-Control: no-store",
                             "Content-Type: text/plain; charset=utf-8", "Content-Encoding: gzip",
                             f"Content-Length: {len(body)}", "Date: <date>", "Server: openline")
    assert gzip.decompress(body) == b'42["message","' + text.encode() + b'"]'
    gets.close()
    posts.close()


def test_a_second_get_is_refused_and_ends_the_first_with_close(full: str) -> None:
    """A second concurrent GET goes to aiohttp's path: 400, and the waiting GET ends with the close packet."""
    gets, posts, url = connected(full)
    gets.send("GET", url)
    second = Raw(full)
    second.send("GET", url)
    assert second.answer() == (head("400 Bad Request", "Content-Type: application/json",
                                    "Content-Length: 34", "Date: <date>", "Server: openline"),
                               b'{"code":3,"message":"Bad request"}')
    assert gets.answer()[1] == b"1"
    for raw in (gets, posts, second):
        raw.close()


def test_a_post_whose_client_leaves_at_once_is_still_handled(full: str) -> None:
    """A POST's CONNECT (handled in a task) still takes effect when its connection closes at once."""
    gets, posts, url = session(full)
    posts.send("POST", url, body=b"40")
    posts.close()
    gets.send("GET", url)
    assert gets.answer()[1].startswith(b'40{"sid":"')
    gets.close()
