"""socket.io-client 2.5's browser bundle in headless Chromium against `openline run
--allow-eio3`: a browser's XHR2 sends and reads binary long-polling payloads
(application/octet-stream, engine.io-parser 2's binary framing), which the Node client
(no XHR2) never does; and the WebSocket upgrade."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page, Response

from tests.browser.conftest import demo_url, serve_openline
from tests.conftest import JS_DIR, require

Pages = Callable[[], Page]
BUNDLE = JS_DIR / "node_modules" / "socket.io-client-v2" / "dist" / "socket.io.js"

# echo ("/", the built-in plugin) acks its arguments: binary goes out and comes back
ROUND_TRIP = """(transports) => new Promise((resolve, reject) => {
  const socket = io({ transports, forceNew: true, reconnection: false });
  socket.on("connect_error", (err) => reject(String(err)));
  socket.on("connect", () => socket.emit("echo", new Uint8Array([1, 2, 255]).buffer, "é😀",
    (bin, text) => resolve({ id: socket.id === socket.io.engine.id, bin: [...new Uint8Array(bin)],
                             binType: bin.constructor.name, text,
                             transport: socket.io.engine.transport.name })));
})"""


@pytest.fixture(scope="module")
def eio3_url() -> Iterator[str]:
    """`openline run --allow-eio3`; its URL."""
    require(BUNDLE.is_file(), "tests/js/node_modules (run `make test`, which runs npm ci)")
    yield from serve_openline("browser-eio3-server.log", "--allow-eio3")


def _polling(response: Response, method: str, content_type: str) -> bool:
    """Whether ``response`` answers an Engine.IO long-polling request of ``method`` whose
    body (a POST's) or answer (a GET's) is of ``content_type``."""
    request = response.request
    if "/socket.io/" not in response.url or "transport=polling" not in response.url \
            or request.method != method:
        return False
    headers = request.headers if method == "POST" else response.headers
    return headers.get("content-type", "") == content_type


def test_xhr2_polling_sends_and_reads_binary_payloads(eio3_url: str, new_page: Pages) -> None:
    """Polling only: the binary event goes as an octet-stream POST, its binary ack comes back
    as an octet-stream GET, and arrives as an ArrayBuffer."""
    page = new_page()
    page.goto(demo_url(eio3_url, connect="0"))
    page.add_script_tag(path=str(BUNDLE))
    binary = "application/octet-stream"
    with page.expect_response(lambda r: _polling(r, "POST", binary)) as posted, \
            page.expect_response(lambda r: _polling(r, "GET", binary)) as polled:
        result = page.evaluate(ROUND_TRIP, ["polling"])
    assert result == {"id": True, "bin": [1, 2, 255], "binType": "ArrayBuffer", "text": "é😀",
                      "transport": "polling"}
    assert (posted.value.status, posted.value.body()) == (200, b"ok")
    ack = '461-0[{"_placeholder":true,"num":0},"é😀"]'.encode()
    assert polled.value.body() == _part(0, ack) + _part(1, b"\x04\x01\x02\xff")


def _part(kind: int, data: bytes) -> bytes:
    """One packet of a binary payload: kind, the length's digits as bytes, 255, the packet."""
    return bytes([kind, *(int(c) for c in str(len(data))), 255]) + data


def test_browser_upgrades_to_websocket(eio3_url: str, new_page: Pages) -> None:
    """The default transports: polling, then the upgrade; binary over the WebSocket."""
    page = new_page()
    page.goto(demo_url(eio3_url, connect="0"))
    page.add_script_tag(path=str(BUNDLE))
    result = page.evaluate("""() => new Promise((resolve) => {
      const socket = io({ forceNew: true, reconnection: false });
      socket.io.on("open", () => socket.io.engine.once("upgrade", () => resolve(true)));
    })""")
    assert result is True
    back = page.evaluate(ROUND_TRIP, ["polling", "websocket"])
    assert back["bin"] == [1, 2, 255] and back["text"] == "é😀"
